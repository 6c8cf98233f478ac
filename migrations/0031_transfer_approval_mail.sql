ALTER TABLE "domain_transfers" ADD COLUMN "approval_sent_to" text;--> statement-breakpoint
ALTER TABLE "domain_transfers" ADD COLUMN "approval_queued_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "domain_transfers" ADD COLUMN "approval_mailed_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "domain_transfers" ADD COLUMN "approval_mails" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
ALTER TABLE "registry_names" ADD COLUMN "registrant_email" text;