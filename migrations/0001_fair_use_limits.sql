CREATE TABLE "operation_costs" (
	"operation_id" text PRIMARY KEY NOT NULL,
	"cost" integer NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "rate_limit_policies" (
	"scope" text PRIMARY KEY NOT NULL,
	"capacity" integer NOT NULL,
	"refill_per_minute" integer NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
INSERT INTO "rate_limit_policies" ("scope", "capacity", "refill_per_minute") VALUES
  ('credential', 300, 600),
  ('account', 1000, 1800),
  ('address', 60, 60);--> statement-breakpoint
INSERT INTO "operation_costs" ("operation_id", "cost") VALUES
  ('createApiKey', 5),
  ('rotateApiKey', 5),
  ('adminCreateAccount', 5);
