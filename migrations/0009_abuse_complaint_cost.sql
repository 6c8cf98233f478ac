ALTER TABLE "abuse_complaints" DROP COLUMN "incident_id";--> statement-breakpoint
-- Registry commands cost what a registration costs; a public abuse report costs 10 of an address's
-- 60 tokens (6 at once, then one every 10 s).
INSERT INTO "operation_costs" ("operation_id", "cost") VALUES
  ('renewDomain', 10),
  ('restoreDomain', 10),
  ('requestDomainTransfer', 10),
  ('fileAbuseComplaint', 10)
ON CONFLICT ("operation_id") DO NOTHING;
