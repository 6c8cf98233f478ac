CREATE TABLE "account_events" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "account_events_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"account_id" uuid NOT NULL,
	"type" text NOT NULL,
	"data" jsonb NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "bulk_notices" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"account_id" uuid NOT NULL,
	"day" date NOT NULL,
	"expected_count" integer NOT NULL,
	"description" text NOT NULL,
	"created_by" uuid NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "daily_counters" (
	"account_id" uuid NOT NULL,
	"day" date NOT NULL,
	"commands" integer DEFAULT 0 NOT NULL,
	CONSTRAINT "daily_counters_account_id_day_pk" PRIMARY KEY("account_id","day")
);
--> statement-breakpoint
CREATE TABLE "fair_use_incidents" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "fair_use_incidents_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"account_id" uuid NOT NULL,
	"type" text NOT NULL,
	"dedupe_key" text NOT NULL,
	"occurred_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"evidence" jsonb NOT NULL,
	"status" text DEFAULT 'open' NOT NULL,
	"annotation" text,
	"actions" text[] DEFAULT '{}'::text[] NOT NULL,
	"cleared_at" timestamp (3) with time zone,
	"cleared_by" uuid
);
--> statement-breakpoint
CREATE TABLE "ladder_steps" (
	"threshold" integer PRIMARY KEY NOT NULL,
	"action" text NOT NULL,
	"suspension_hours" integer,
	"fee" jsonb
);
--> statement-breakpoint
ALTER TABLE "accounts" ADD COLUMN "api_suspended_until" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "accounts" ADD COLUMN "termination_review" boolean DEFAULT false NOT NULL;--> statement-breakpoint
CREATE INDEX "account_events_account_idx" ON "account_events" USING btree ("account_id","id");--> statement-breakpoint
CREATE INDEX "bulk_notices_account_day_idx" ON "bulk_notices" USING btree ("account_id","day");--> statement-breakpoint
CREATE UNIQUE INDEX "fair_use_incidents_dedupe_key" ON "fair_use_incidents" USING btree ("account_id","type","dedupe_key");--> statement-breakpoint
CREATE INDEX "fair_use_incidents_account_idx" ON "fair_use_incidents" USING btree ("account_id","occurred_at");--> statement-breakpoint
INSERT INTO "ladder_steps" ("threshold", "action", "suspension_hours", "fee") VALUES
  (1, 'warning', NULL, NULL),
  (3, 'suspend_api', 24, NULL),
  (5, 'fee', NULL, '{"EUR": 2500, "USD": 2500, "RUB": 250000}'),
  (7, 'termination_review', NULL, NULL);
