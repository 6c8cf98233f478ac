-- R-DOM-3: approval tokens go to the domain's owner of record by e-mail. Transfers still waiting
-- for approval were opened when the token was handed to the gaining reseller: that token stops
-- working (a hash no token has), and the reseller asks for the owner's e-mail with resend-approval.
UPDATE "domain_transfers" SET "approval_token_hash" = 'superseded:' || "id"::text
  WHERE "status" = 'pending_approval' AND "approval_sent_to" IS NULL;--> statement-breakpoint
-- A name sponsored here has its owner contact; an e-mail of record is only for names held elsewhere.
UPDATE "registry_names" SET "registrant_email" = NULL WHERE "sponsor_account_id" IS NOT NULL;
