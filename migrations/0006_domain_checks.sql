CREATE TABLE "domain_checks" (
	"account_id" uuid NOT NULL,
	"name" text NOT NULL,
	"result" text NOT NULL,
	"checked_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "domain_checks_account_id_name_pk" PRIMARY KEY("account_id","name")
);
--> statement-breakpoint
CREATE TABLE "domain_quotes" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"account_id" uuid NOT NULL,
	"name" text NOT NULL,
	"premium" boolean NOT NULL,
	"currency" text NOT NULL,
	"amount" bigint NOT NULL,
	"expires_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "registry_names" (
	"name" text PRIMARY KEY NOT NULL,
	"sponsor_account_id" uuid,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE INDEX "domain_quotes_account_idx" ON "domain_quotes" USING btree ("account_id","name");--> statement-breakpoint
INSERT INTO "operation_costs" ("operation_id", "cost") VALUES ('checkDomains', 1), ('registerDomain', 10)
  ON CONFLICT ("operation_id") DO UPDATE SET "cost" = excluded."cost";--> statement-breakpoint
INSERT INTO "guard_exemptions" ("operation_id", "reason") VALUES ('checkDomains', 'Availability checks are governed by the drop-catch rule (R-DOM-4)');--> statement-breakpoint
INSERT INTO "registry_names" ("name", "sponsor_account_id", "expires_at") VALUES
  ('example-taken.com', NULL, now() + interval '1 year'),
  ('google.com', NULL, now() + interval '5 years'),
  ('wikipedia.org', NULL, now() + interval '5 years'),
  ('bund.de', NULL, now() + interval '1 year');
