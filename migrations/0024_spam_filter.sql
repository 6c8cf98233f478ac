CREATE TABLE "spam_filter_charges" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "spam_filter_charges_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"domain_id" uuid NOT NULL,
	"account_id" uuid NOT NULL,
	"domain_name" text NOT NULL,
	"period_start" timestamp (3) with time zone NOT NULL,
	"period_end" timestamp (3) with time zone NOT NULL,
	"mailboxes" integer NOT NULL,
	"overage" integer NOT NULL,
	"amount" bigint NOT NULL,
	"currency" text NOT NULL,
	"status" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "spam_filter_domains" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"account_id" uuid NOT NULL,
	"name" text NOT NULL,
	"destinations" jsonb NOT NULL,
	"aliases" text[] DEFAULT '{}'::text[] NOT NULL,
	"products" text[] NOT NULL,
	"period_anchor" timestamp (3) with time zone NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "spam_filter_domains_name_unique" UNIQUE("name")
);
--> statement-breakpoint
CREATE TABLE "spam_filter_mailbox_reports" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "spam_filter_mailbox_reports_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"domain_id" uuid NOT NULL,
	"mailboxes" integer NOT NULL,
	"reported_at" timestamp (3) with time zone NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "spam_filter_mailbox_reports" ADD CONSTRAINT "spam_filter_mailbox_reports_domain_id_spam_filter_domains_id_fk" FOREIGN KEY ("domain_id") REFERENCES "public"."spam_filter_domains"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "spam_filter_charges_once_key" ON "spam_filter_charges" USING btree ("domain_id","period_start");--> statement-breakpoint
CREATE INDEX "spam_filter_charges_account_idx" ON "spam_filter_charges" USING btree ("account_id","id");--> statement-breakpoint
CREATE INDEX "spam_filter_domains_account_idx" ON "spam_filter_domains" USING btree ("account_id","name");--> statement-breakpoint
CREATE INDEX "spam_filter_mailbox_reports_domain_idx" ON "spam_filter_mailbox_reports" USING btree ("domain_id","reported_at");--> statement-breakpoint
-- The price of one mailbox above the 1,000 included per domain, per monthly period (R-LIC-4).
INSERT INTO "license_products" ("id", "kind", "name") VALUES
  ('SPAMEXPERTS-MAILBOX-OVERAGE', 'overage', 'Spam filter: one mailbox above the 1,000 included per domain, per month');--> statement-breakpoint
INSERT INTO "license_prices" ("product_id", "period_months", "currency", "amount") VALUES
  ('SPAMEXPERTS-MAILBOX-OVERAGE', 1, 'EUR', 5), ('SPAMEXPERTS-MAILBOX-OVERAGE', 1, 'USD', 6);
