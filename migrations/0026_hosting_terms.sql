ALTER TABLE "hosting_addons" ADD COLUMN "covered_from" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "hosting_addons" ADD COLUMN "ahead_charge" bigint DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "hosting_subscriptions" ADD COLUMN "term_anchor" timestamp (3) with time zone;--> statement-breakpoint
UPDATE "hosting_subscriptions" SET "term_anchor" = "term_start";--> statement-breakpoint
ALTER TABLE "hosting_subscriptions" ALTER COLUMN "term_anchor" SET NOT NULL;--> statement-breakpoint
ALTER TABLE "hosting_subscriptions" ADD COLUMN "term_index" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "hosting_subscriptions" ADD COLUMN "paid_terms_ahead" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
UPDATE "hosting_addons" SET "covered_from" = "bought_at";
