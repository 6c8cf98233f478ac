CREATE TABLE "domains" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"account_id" uuid NOT NULL,
	"name" text NOT NULL,
	"unicode_name" text NOT NULL,
	"tld" text NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"premium" boolean DEFAULT false NOT NULL,
	"registered_at" timestamp (3) with time zone NOT NULL,
	"expires_at" timestamp (3) with time zone NOT NULL,
	"autorenew" boolean DEFAULT true NOT NULL,
	"locked" boolean DEFAULT true NOT NULL,
	"auth_code_sealed" text NOT NULL,
	"nameservers" text[] NOT NULL,
	"owner_handle" text NOT NULL,
	"admin_handle" text,
	"tech_handle" text,
	"billing_handle" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX "domains_live_name_key" ON "domains" USING btree ("name") WHERE "domains"."status" <> 'released';--> statement-breakpoint
CREATE INDEX "domains_account_idx" ON "domains" USING btree ("account_id","name");