CREATE TABLE "abuse_complaints" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"domain_id" uuid NOT NULL,
	"domain_name" text NOT NULL,
	"account_id" uuid NOT NULL,
	"category" text NOT NULL,
	"description" text NOT NULL,
	"evidence_urls" text[] DEFAULT '{}'::text[] NOT NULL,
	"reporter_name" text,
	"reporter_email" text,
	"source" text NOT NULL,
	"filed_by_user_id" uuid,
	"filed_from_ip" text,
	"status" text DEFAULT 'open' NOT NULL,
	"respond_by" timestamp (3) with time zone NOT NULL,
	"response_action" text,
	"response_message" text,
	"responded_at" timestamp (3) with time zone,
	"responded_by_user_id" uuid,
	"escalated_at" timestamp (3) with time zone,
	"incident_id" uuid,
	"closed_at" timestamp (3) with time zone,
	"close_note" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "domain_transfers" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"account_id" uuid NOT NULL,
	"name" text NOT NULL,
	"unicode_name" text NOT NULL,
	"tld" text NOT NULL,
	"losing_account_id" uuid,
	"status" text DEFAULT 'pending_approval' NOT NULL,
	"approval_token_hash" text NOT NULL,
	"owner_handle" text NOT NULL,
	"admin_handle" text,
	"tech_handle" text,
	"billing_handle" text,
	"nameservers" text[],
	"currency" text NOT NULL,
	"quoted_amount" bigint NOT NULL,
	"charged_amount" bigint,
	"note" text,
	"domain_id" uuid,
	"requested_at" timestamp (3) with time zone NOT NULL,
	"expires_at" timestamp (3) with time zone NOT NULL,
	"decided_at" timestamp (3) with time zone,
	"completed_at" timestamp (3) with time zone
);
--> statement-breakpoint
DROP INDEX "domains_live_name_key";--> statement-breakpoint
ALTER TABLE "domains" ADD COLUMN "grace_ends_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "domains" ADD COLUMN "redemption_ends_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "domains" ADD COLUMN "purge_at" timestamp (3) with time zone;--> statement-breakpoint
UPDATE "domains" d SET
  "grace_ends_at" = d."expires_at" + make_interval(days => t."auto_renew_grace_days"),
  "redemption_ends_at" = d."expires_at" + make_interval(days => t."auto_renew_grace_days" + t."redemption_days"),
  "purge_at" = d."expires_at" + make_interval(days => t."auto_renew_grace_days" + t."redemption_days" + t."pending_delete_days")
FROM "tlds" t WHERE t."tld" = d."tld";--> statement-breakpoint
ALTER TABLE "domains" ALTER COLUMN "grace_ends_at" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "domains" ALTER COLUMN "redemption_ends_at" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "domains" ALTER COLUMN "purge_at" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "domains" ADD COLUMN "autorenew_failed_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "registry_names" ADD COLUMN "auth_code_hash" text;--> statement-breakpoint
ALTER TABLE "registry_names" ADD COLUMN "transfer_prohibited" boolean DEFAULT false NOT NULL;--> statement-breakpoint
CREATE INDEX "abuse_complaints_account_idx" ON "abuse_complaints" USING btree ("account_id","created_at");--> statement-breakpoint
CREATE INDEX "abuse_complaints_due_idx" ON "abuse_complaints" USING btree ("status","respond_by");--> statement-breakpoint
CREATE UNIQUE INDEX "domain_transfers_token_key" ON "domain_transfers" USING btree ("approval_token_hash");--> statement-breakpoint
CREATE UNIQUE INDEX "domain_transfers_open_name_key" ON "domain_transfers" USING btree ("name") WHERE "domain_transfers"."status" IN ('pending_approval', 'approved');--> statement-breakpoint
CREATE INDEX "domain_transfers_account_idx" ON "domain_transfers" USING btree ("account_id","requested_at");--> statement-breakpoint
CREATE INDEX "domain_transfers_open_idx" ON "domain_transfers" USING btree ("status","expires_at");--> statement-breakpoint
CREATE INDEX "domains_lifecycle_idx" ON "domains" USING btree ("status","expires_at");--> statement-breakpoint
CREATE UNIQUE INDEX "domains_live_name_key" ON "domains" USING btree ("name") WHERE "domains"."status" NOT IN ('released', 'transferred_out');