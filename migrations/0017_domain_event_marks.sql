ALTER TABLE "domains" ADD COLUMN "expiry_notice_for" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "domains" ADD COLUMN "expiry_notice_days" integer;