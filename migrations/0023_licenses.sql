CREATE TABLE "eula_acceptances" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"account_id" uuid NOT NULL,
	"user_id" uuid,
	"api_key_id" uuid,
	"license_id" uuid,
	"vendor" text NOT NULL,
	"eula_version" text NOT NULL,
	"terms_version" text,
	"ip" text NOT NULL,
	"accepted_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "license_addresses" (
	"license_id" uuid NOT NULL,
	"address" text NOT NULL,
	"first_seen" timestamp (3) with time zone NOT NULL,
	"last_seen" timestamp (3) with time zone NOT NULL,
	"reports" integer DEFAULT 1 NOT NULL,
	"resolved_at" timestamp (3) with time zone,
	"resolution" text,
	CONSTRAINT "license_addresses_license_id_address_pk" PRIMARY KEY("license_id","address")
);
--> statement-breakpoint
CREATE TABLE "license_ip_reports" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "license_ip_reports_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"license_id" uuid NOT NULL,
	"addresses" text[] NOT NULL,
	"source" text NOT NULL,
	"seen_at" timestamp (3) with time zone NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "license_keys" (
	"key_number" text PRIMARY KEY NOT NULL,
	"activation_code" text NOT NULL,
	"item" text NOT NULL,
	"bound_address" text,
	"restrict_binding" boolean NOT NULL,
	"status" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "license_multi_use_charges" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "license_multi_use_charges_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"license_id" uuid NOT NULL,
	"account_id" uuid NOT NULL,
	"address" text NOT NULL,
	"period_start" timestamp (3) with time zone NOT NULL,
	"period_end" timestamp (3) with time zone NOT NULL,
	"amount" bigint NOT NULL,
	"currency" text NOT NULL,
	"status" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"waived_at" timestamp (3) with time zone,
	"waived_by" uuid,
	"waive_note" text
);
--> statement-breakpoint
CREATE TABLE "license_prices" (
	"product_id" text NOT NULL,
	"period_months" integer NOT NULL,
	"currency" text NOT NULL,
	"amount" bigint NOT NULL,
	CONSTRAINT "license_prices_product_id_period_months_currency_pk" PRIMARY KEY("product_id","period_months","currency")
);
--> statement-breakpoint
CREATE TABLE "license_products" (
	"id" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"name" text NOT NULL,
	"active" boolean DEFAULT true NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "license_transitions" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "license_transitions_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"license_id" uuid NOT NULL,
	"at" timestamp (3) with time zone NOT NULL,
	"kind" text NOT NULL,
	"note" text,
	"evidence" jsonb DEFAULT '{}'::jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "plesk_licenses" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"account_id" uuid NOT NULL,
	"server_id" uuid NOT NULL,
	"product" text NOT NULL,
	"extras" text[] DEFAULT '{}'::text[] NOT NULL,
	"period_months" integer NOT NULL,
	"key_number" text NOT NULL,
	"activation_code_sealed" text NOT NULL,
	"bound_address" text NOT NULL,
	"binding_mode" text NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"multi_use" text DEFAULT 'none' NOT NULL,
	"multi_use_since" timestamp (3) with time zone,
	"notice_until" timestamp (3) with time zone,
	"confirmed_at" timestamp (3) with time zone,
	"autorenew" boolean DEFAULT true NOT NULL,
	"period_anchor" timestamp (3) with time zone NOT NULL,
	"expires_at" timestamp (3) with time zone NOT NULL,
	"suspended_at" timestamp (3) with time zone,
	"terminated_at" timestamp (3) with time zone,
	"terminated_reason" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "plesk_licenses_key_number_unique" UNIQUE("key_number")
);
--> statement-breakpoint
CREATE TABLE "servers" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"account_id" uuid NOT NULL,
	"name" text NOT NULL,
	"addresses" text[] NOT NULL,
	"location" text,
	"provider" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "vendor_policies" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"vendor" text NOT NULL,
	"kind" text NOT NULL,
	"version" text NOT NULL,
	"url" text NOT NULL,
	"published_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "license_addresses" ADD CONSTRAINT "license_addresses_license_id_plesk_licenses_id_fk" FOREIGN KEY ("license_id") REFERENCES "public"."plesk_licenses"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "license_ip_reports" ADD CONSTRAINT "license_ip_reports_license_id_plesk_licenses_id_fk" FOREIGN KEY ("license_id") REFERENCES "public"."plesk_licenses"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "license_multi_use_charges" ADD CONSTRAINT "license_multi_use_charges_license_id_plesk_licenses_id_fk" FOREIGN KEY ("license_id") REFERENCES "public"."plesk_licenses"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "license_prices" ADD CONSTRAINT "license_prices_product_id_license_products_id_fk" FOREIGN KEY ("product_id") REFERENCES "public"."license_products"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "license_transitions" ADD CONSTRAINT "license_transitions_license_id_plesk_licenses_id_fk" FOREIGN KEY ("license_id") REFERENCES "public"."plesk_licenses"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "eula_acceptances_account_idx" ON "eula_acceptances" USING btree ("account_id","accepted_at");--> statement-breakpoint
CREATE INDEX "license_ip_reports_license_idx" ON "license_ip_reports" USING btree ("license_id","id");--> statement-breakpoint
CREATE UNIQUE INDEX "license_keys_bound_address_key" ON "license_keys" USING btree ("bound_address") WHERE "license_keys"."status" <> 'terminated' AND "license_keys"."bound_address" IS NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "license_multi_use_charges_once_key" ON "license_multi_use_charges" USING btree ("license_id","address","period_start");--> statement-breakpoint
CREATE INDEX "license_multi_use_charges_account_idx" ON "license_multi_use_charges" USING btree ("account_id","id");--> statement-breakpoint
CREATE INDEX "license_transitions_license_idx" ON "license_transitions" USING btree ("license_id","id");--> statement-breakpoint
CREATE INDEX "plesk_licenses_account_idx" ON "plesk_licenses" USING btree ("account_id","created_at");--> statement-breakpoint
CREATE INDEX "plesk_licenses_server_idx" ON "plesk_licenses" USING btree ("server_id");--> statement-breakpoint
CREATE INDEX "plesk_licenses_multi_use_idx" ON "plesk_licenses" USING btree ("multi_use") WHERE "plesk_licenses"."multi_use" <> 'none';--> statement-breakpoint
CREATE UNIQUE INDEX "servers_account_name_key" ON "servers" USING btree ("account_id","name");--> statement-breakpoint
CREATE INDEX "servers_account_idx" ON "servers" USING btree ("account_id","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "vendor_policies_version_key" ON "vendor_policies" USING btree ("vendor","kind","version");
--> statement-breakpoint
-- The catalogue and the vendors' policies to start with; operators edit both through /v1/admin/licenses.
INSERT INTO "license_products" ("id", "kind", "name") VALUES
  ('PLESK-12-WEB-ADMIN', 'edition', 'Plesk Web Admin Edition (10 domains)'),
  ('PLESK-12-WEB-PRO', 'edition', 'Plesk Web Pro Edition (30 domains)'),
  ('PLESK-12-WEB-HOST', 'edition', 'Plesk Web Host Edition (unlimited domains)'),
  ('PLESK-EXT-WP-TOOLKIT', 'extra', 'WP Toolkit'),
  ('PLESK-EXT-LANGUAGE-PACK', 'extra', 'Language pack');--> statement-breakpoint
INSERT INTO "license_prices" ("product_id", "period_months", "currency", "amount") VALUES
  ('PLESK-12-WEB-ADMIN', 1, 'EUR', 1090), ('PLESK-12-WEB-ADMIN', 12, 'EUR', 11990),
  ('PLESK-12-WEB-ADMIN', 1, 'USD', 1190), ('PLESK-12-WEB-ADMIN', 12, 'USD', 12990),
  ('PLESK-12-WEB-PRO', 1, 'EUR', 1690), ('PLESK-12-WEB-PRO', 12, 'EUR', 18590),
  ('PLESK-12-WEB-PRO', 1, 'USD', 1790), ('PLESK-12-WEB-PRO', 12, 'USD', 19690),
  ('PLESK-12-WEB-HOST', 1, 'EUR', 3190), ('PLESK-12-WEB-HOST', 12, 'EUR', 35090),
  ('PLESK-12-WEB-HOST', 1, 'USD', 3390), ('PLESK-12-WEB-HOST', 12, 'USD', 37290),
  ('PLESK-EXT-WP-TOOLKIT', 1, 'EUR', 490), ('PLESK-EXT-WP-TOOLKIT', 12, 'EUR', 5390),
  ('PLESK-EXT-WP-TOOLKIT', 1, 'USD', 520), ('PLESK-EXT-WP-TOOLKIT', 12, 'USD', 5720),
  ('PLESK-EXT-LANGUAGE-PACK', 1, 'EUR', 190), ('PLESK-EXT-LANGUAGE-PACK', 12, 'EUR', 2090),
  ('PLESK-EXT-LANGUAGE-PACK', 1, 'USD', 200), ('PLESK-EXT-LANGUAGE-PACK', 12, 'USD', 2200);--> statement-breakpoint
INSERT INTO "vendor_policies" ("vendor", "kind", "version", "url") VALUES
  ('plesk', 'eula', '2024-01', 'https://www.plesk.com/legal/#eula'),
  ('plesk', 'terms_of_use', '2024-01', 'https://www.plesk.com/legal/'),
  ('plesk', 'fair_use', '2024-01', 'https://docs.plesk.com/en-US/obsidian/administrator-guide/about-plesk/plesk-licensing.html'),
  ('spamexperts', 'eula', '2023-06', 'https://www.spamexperts.com/legal/end-user-license-agreement'),
  ('spamexperts', 'terms_of_use', '2023-06', 'https://www.spamexperts.com/legal/terms'),
  ('spamexperts', 'fair_use', '2023-06', 'https://www.spamexperts.com/legal/fair-use');
