CREATE TABLE "hosting_addon_products" (
	"id" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"name" text NOT NULL,
	"accounts" integer,
	"active" boolean DEFAULT true NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "hosting_addons" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"subscription_id" uuid NOT NULL,
	"account_id" uuid NOT NULL,
	"product_id" text NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"bundled" boolean DEFAULT false NOT NULL,
	"license_key_sealed" text,
	"ip_address" text,
	"price_version" integer,
	"charged_amount" bigint DEFAULT 0 NOT NULL,
	"currency" text NOT NULL,
	"bought_at" timestamp (3) with time zone NOT NULL,
	"removed_at" timestamp (3) with time zone,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "hosting_customers" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"subscription_id" uuid NOT NULL,
	"name" text NOT NULL,
	"disk_bytes" bigint NOT NULL,
	"traffic_bytes" bigint NOT NULL,
	"domains" integer NOT NULL,
	"sites" integer NOT NULL,
	"mailboxes" integer NOT NULL,
	"databases" integer NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"suspended_for" text[] DEFAULT '{}'::text[] NOT NULL,
	"panel_id" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "hosting_ip_pool" (
	"address" text PRIMARY KEY NOT NULL,
	"addon_id" uuid,
	"assigned_at" timestamp (3) with time zone
);
--> statement-breakpoint
CREATE TABLE "hosting_panel_objects" (
	"panel_id" text PRIMARY KEY NOT NULL,
	"kind" text NOT NULL,
	"parent_panel_id" text,
	"status" text NOT NULL,
	"policy" jsonb,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "hosting_plans" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"active" boolean DEFAULT true NOT NULL,
	"disk_bytes" bigint NOT NULL,
	"traffic_bytes" bigint NOT NULL,
	"customers" integer NOT NULL,
	"domains" integer NOT NULL,
	"sites" integer NOT NULL,
	"mailboxes" integer NOT NULL,
	"mailbox_bytes" bigint NOT NULL,
	"databases" integer NOT NULL,
	"overuse" text NOT NULL,
	"oversell" boolean NOT NULL,
	"thresholds" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "hosting_prices" (
	"kind" text NOT NULL,
	"product_id" text NOT NULL,
	"currency" text NOT NULL,
	"version" integer NOT NULL,
	"monthly_amount" bigint NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "hosting_prices_kind_product_id_currency_version_pk" PRIMARY KEY("kind","product_id","currency","version")
);
--> statement-breakpoint
CREATE TABLE "hosting_subscriptions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"account_id" uuid NOT NULL,
	"plan_id" text NOT NULL,
	"plan_price_version" integer NOT NULL,
	"pending_plan_id" text,
	"term_months" integer NOT NULL,
	"term_start" timestamp (3) with time zone NOT NULL,
	"term_end" timestamp (3) with time zone NOT NULL,
	"autorenew" boolean DEFAULT true NOT NULL,
	"status" text DEFAULT 'active' NOT NULL,
	"suspended_for" text[] DEFAULT '{}'::text[] NOT NULL,
	"whmcs_bundled" boolean DEFAULT false NOT NULL,
	"panel_id" text NOT NULL,
	"disk_used" bigint DEFAULT 0 NOT NULL,
	"traffic_used" bigint DEFAULT 0 NOT NULL,
	"traffic_month" text,
	"crossed" text[] DEFAULT '{}'::text[] NOT NULL,
	"renewal_failed_at" timestamp (3) with time zone,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "hosting_usage" (
	"subscription_id" uuid NOT NULL,
	"subject" text NOT NULL,
	"measured_at" timestamp (3) with time zone NOT NULL,
	"disk_bytes" bigint NOT NULL,
	"traffic_bytes" bigint NOT NULL,
	"traffic_month" text NOT NULL,
	"mailboxes" integer DEFAULT 0 NOT NULL,
	"largest_mailbox_bytes" bigint DEFAULT 0 NOT NULL,
	CONSTRAINT "hosting_usage_subscription_id_subject_pk" PRIMARY KEY("subscription_id","subject")
);
--> statement-breakpoint
ALTER TABLE "hosting_addons" ADD CONSTRAINT "hosting_addons_subscription_id_hosting_subscriptions_id_fk" FOREIGN KEY ("subscription_id") REFERENCES "public"."hosting_subscriptions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "hosting_customers" ADD CONSTRAINT "hosting_customers_subscription_id_hosting_subscriptions_id_fk" FOREIGN KEY ("subscription_id") REFERENCES "public"."hosting_subscriptions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "hosting_usage" ADD CONSTRAINT "hosting_usage_subscription_id_hosting_subscriptions_id_fk" FOREIGN KEY ("subscription_id") REFERENCES "public"."hosting_subscriptions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "hosting_addons_subscription_idx" ON "hosting_addons" USING btree ("subscription_id","id");--> statement-breakpoint
CREATE INDEX "hosting_customers_subscription_idx" ON "hosting_customers" USING btree ("subscription_id","id");--> statement-breakpoint
CREATE INDEX "hosting_subscriptions_account_idx" ON "hosting_subscriptions" USING btree ("account_id","id");--> statement-breakpoint
CREATE INDEX "hosting_subscriptions_due_idx" ON "hosting_subscriptions" USING btree ("term_end") WHERE "hosting_subscriptions"."status" <> 'expired';--> statement-breakpoint
INSERT INTO "hosting_plans" ("id", "name", "disk_bytes", "traffic_bytes", "customers", "domains", "sites", "mailboxes", "mailbox_bytes", "databases", "overuse", "oversell", "thresholds") VALUES
  ('reseller-start', 'Reseller Start', 53687091200, 536870912000, 20, 50, 50, 500, 2147483648, 50, 'not_allowed', false, '[{"resource":"disk","percent":80},{"resource":"traffic","percent":80}]'),
  ('reseller-pro', 'Reseller Pro', 214748364800, 2199023255552, 100, 250, 250, 2500, 5368709120, 250, 'disk_and_traffic_allowed', true, '[{"resource":"disk","percent":90},{"resource":"traffic","percent":90}]'),
  ('reseller-unlimited', 'Reseller Unlimited', -1, -1, 500, -1, -1, -1, 10737418240, -1, 'allowed', true, '[]');--> statement-breakpoint
INSERT INTO "hosting_addon_products" ("id", "kind", "name", "accounts") VALUES
  ('whmcs', 'license_key', 'WHMCS license', NULL),
  ('dedicated-ip', 'ip_address', 'Dedicated IP address', NULL),
  ('cpanel-block', 'account_block', 'cPanel account block (10 customer accounts)', 10);--> statement-breakpoint
INSERT INTO "hosting_prices" ("kind", "product_id", "currency", "version", "monthly_amount") VALUES
  ('plan', 'reseller-start', 'RUB', 1, 150000), ('plan', 'reseller-start', 'EUR', 1, 1500), ('plan', 'reseller-start', 'USD', 1, 1600),
  ('plan', 'reseller-pro', 'RUB', 1, 350000), ('plan', 'reseller-pro', 'EUR', 1, 3500), ('plan', 'reseller-pro', 'USD', 1, 3800),
  ('plan', 'reseller-unlimited', 'RUB', 1, 700000), ('plan', 'reseller-unlimited', 'EUR', 1, 7000), ('plan', 'reseller-unlimited', 'USD', 1, 7500),
  ('addon', 'whmcs', 'RUB', 1, 80000), ('addon', 'whmcs', 'EUR', 1, 900), ('addon', 'whmcs', 'USD', 1, 1000),
  ('addon', 'dedicated-ip', 'RUB', 1, 15000), ('addon', 'dedicated-ip', 'EUR', 1, 300), ('addon', 'dedicated-ip', 'USD', 1, 300),
  ('addon', 'cpanel-block', 'RUB', 1, 50000), ('addon', 'cpanel-block', 'EUR', 1, 600), ('addon', 'cpanel-block', 'USD', 1, 650);--> statement-breakpoint
INSERT INTO "hosting_ip_pool" ("address") SELECT '198.51.100.' || n FROM generate_series(10, 59) AS n;
