-- No cascade from a report's license: a check-in's report is an audit record, never deleted with it.
ALTER TABLE "license_ip_reports" DROP CONSTRAINT "license_ip_reports_license_id_plesk_licenses_id_fk";
--> statement-breakpoint
-- A check-in is its own audit record (R-SEC-7): report ids come from audit_events' sequence from now
-- on, so that one id orders the audit trail's two tables. The identity goes first (a column with one
-- takes no default); then the shared sequence moves past every report id already given, and only
-- forwards (instances writing audit rows meanwhile keep drawing from it). Instances of the previous
-- release draw report ids from the dropped sequence: stop them before this migration runs.
ALTER TABLE "license_ip_reports" ALTER COLUMN "id" DROP IDENTITY;--> statement-breakpoint
ALTER TABLE "license_ip_reports" ALTER COLUMN "id" SET DEFAULT nextval('audit_events_id_seq');--> statement-breakpoint
SELECT setval('audit_events_id_seq', m.id) FROM (SELECT max("id") AS id FROM "license_ip_reports") m
  WHERE m.id > (SELECT last_value FROM audit_events_id_seq);--> statement-breakpoint
ALTER TABLE "license_ip_reports" ADD COLUMN "request_account_id" uuid;--> statement-breakpoint
ALTER TABLE "license_ip_reports" ADD COLUMN "request_user_id" uuid;--> statement-breakpoint
ALTER TABLE "license_ip_reports" ADD COLUMN "request_credential_type" text;--> statement-breakpoint
ALTER TABLE "license_ip_reports" ADD COLUMN "request_credential_id" text;--> statement-breakpoint
ALTER TABLE "license_ip_reports" ADD COLUMN "request_address" text;--> statement-breakpoint
ALTER TABLE "license_ip_reports" ADD COLUMN "request_id" text;--> statement-breakpoint
ALTER TABLE "license_ip_reports" ADD CONSTRAINT "license_ip_reports_license_id_plesk_licenses_id_fk" FOREIGN KEY ("license_id") REFERENCES "public"."plesk_licenses"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "license_ip_reports_audit_idx" ON "license_ip_reports" USING btree ("request_account_id","id") WHERE request_id IS NOT NULL;