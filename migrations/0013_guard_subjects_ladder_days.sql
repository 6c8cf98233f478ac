-- Remembered failures are keyed by credential now; they live for minutes, so forgetting the old ones is harmless.
DELETE FROM "failed_commands";--> statement-breakpoint
ALTER TABLE "failed_commands" DROP CONSTRAINT "failed_commands_account_id_fingerprint_pk";--> statement-breakpoint
ALTER TABLE "failed_commands" ADD COLUMN "credential" text NOT NULL;--> statement-breakpoint
ALTER TABLE "failed_commands" ADD COLUMN "subjects" text[] DEFAULT '{}'::text[] NOT NULL;--> statement-breakpoint
ALTER TABLE "failed_commands" ADD CONSTRAINT "failed_commands_credential_fingerprint_pk" PRIMARY KEY("credential","fingerprint");--> statement-breakpoint
ALTER TABLE "ladder_steps" ADD COLUMN "min_days" integer DEFAULT 1 NOT NULL;--> statement-breakpoint
CREATE INDEX "failed_commands_account_idx" ON "failed_commands" USING btree ("account_id");--> statement-breakpoint
-- The default ladder (R-API-4): suspension, fee and review need incidents on several distinct days.
-- A ladder an operator has edited is left as it is.
UPDATE "ladder_steps" SET "min_days" = 3 WHERE "threshold" = 3 AND "action" = 'suspend_api' AND "suspension_hours" = 24;--> statement-breakpoint
UPDATE "ladder_steps" SET "min_days" = 4 WHERE "threshold" = 5 AND "action" = 'fee' AND "fee" = '{"EUR": 2500, "USD": 2500, "RUB": 250000}'::jsonb;--> statement-breakpoint
UPDATE "ladder_steps" SET "min_days" = 5 WHERE "threshold" = 7 AND "action" = 'termination_review';
