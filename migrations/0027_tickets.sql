CREATE TABLE "ticket_attachments" (
	"id" uuid PRIMARY KEY NOT NULL,
	"ticket_id" uuid NOT NULL,
	"message_id" uuid NOT NULL,
	"position" integer DEFAULT 0 NOT NULL,
	"filename" text NOT NULL,
	"content_type" text NOT NULL,
	"size" integer NOT NULL,
	"sha256" text NOT NULL,
	"data" "bytea" NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "ticket_calendars" (
	"id" text PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"spec" jsonb NOT NULL,
	"is_default" boolean DEFAULT false NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "ticket_inbound_emails" (
	"id" uuid PRIMARY KEY NOT NULL,
	"received_at" timestamp (3) with time zone NOT NULL,
	"from_address" text,
	"subject" text,
	"message_id" text,
	"size" bigint NOT NULL,
	"outcome" text NOT NULL,
	"refusal" text,
	"account_id" uuid,
	"ticket_id" uuid
);
--> statement-breakpoint
CREATE TABLE "ticket_links" (
	"ticket_id" uuid NOT NULL,
	"other_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"at" timestamp (3) with time zone NOT NULL,
	CONSTRAINT "ticket_links_ticket_id_other_id_kind_pk" PRIMARY KEY("ticket_id","other_id","kind")
);
--> statement-breakpoint
CREATE TABLE "ticket_messages" (
	"id" uuid PRIMARY KEY NOT NULL,
	"seq" bigserial NOT NULL,
	"ticket_id" uuid NOT NULL,
	"author" text NOT NULL,
	"author_user_id" uuid,
	"kind" text NOT NULL,
	"body" text NOT NULL,
	"internal" boolean DEFAULT false NOT NULL,
	"channel" text NOT NULL,
	"email_message_id" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "ticket_pauses" (
	"id" uuid PRIMARY KEY NOT NULL,
	"period_id" uuid NOT NULL,
	"ticket_id" uuid NOT NULL,
	"reason" text NOT NULL,
	"note" text,
	"started_at" timestamp (3) with time zone NOT NULL,
	"until" timestamp (3) with time zone,
	"ended_at" timestamp (3) with time zone
);
--> statement-breakpoint
CREATE TABLE "ticket_periods" (
	"id" uuid PRIMARY KEY NOT NULL,
	"ticket_id" uuid NOT NULL,
	"cause" text NOT NULL,
	"started_at" timestamp (3) with time zone NOT NULL,
	"priority" text NOT NULL,
	"goal_seconds" integer NOT NULL,
	"business" boolean NOT NULL,
	"calendar_id" text,
	"deadline_at" timestamp (3) with time zone,
	"warn_at" timestamp (3) with time zone,
	"warned_at" timestamp (3) with time zone,
	"breached_at" timestamp (3) with time zone,
	"ended_at" timestamp (3) with time zone,
	"ended_by" text,
	"outcome" text DEFAULT 'running' NOT NULL,
	"response_seconds" integer
);
--> statement-breakpoint
CREATE TABLE "ticket_priority_changes" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"ticket_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"priority" text NOT NULL,
	"justification" text,
	"by_user_id" uuid,
	"at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "ticket_priority_criteria" (
	"product" text NOT NULL,
	"priority" text NOT NULL,
	"criteria" jsonb NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "ticket_priority_criteria_product_priority_pk" PRIMARY KEY("product","priority")
);
--> statement-breakpoint
CREATE TABLE "tickets" (
	"id" uuid PRIMARY KEY NOT NULL,
	"number" bigserial NOT NULL,
	"account_id" uuid NOT NULL,
	"subject" text NOT NULL,
	"channel" text NOT NULL,
	"concerns_type" text NOT NULL,
	"concerns_ref" text NOT NULL,
	"state" text NOT NULL,
	"priority" text DEFAULT 'low' NOT NULL,
	"requested_priority" text,
	"product_team" boolean DEFAULT false NOT NULL,
	"assignee_id" uuid,
	"close_reason" text,
	"closed_at" timestamp (3) with time zone,
	"objection_until" timestamp (3) with time zone,
	"information_requested_at" timestamp (3) with time zone,
	"sla_origin_at" timestamp (3) with time zone NOT NULL,
	"sla_waived_reason" text,
	"next_timer_at" timestamp (3) with time zone,
	"merged_into" uuid,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "tickets_number_unique" UNIQUE("number")
);
--> statement-breakpoint
CREATE INDEX "ticket_attachments_message_idx" ON "ticket_attachments" USING btree ("message_id");--> statement-breakpoint
CREATE UNIQUE INDEX "ticket_calendars_one_default" ON "ticket_calendars" USING btree ("is_default") WHERE "ticket_calendars"."is_default";--> statement-breakpoint
CREATE INDEX "ticket_inbound_emails_received_idx" ON "ticket_inbound_emails" USING btree ("received_at");--> statement-breakpoint
CREATE INDEX "ticket_messages_ticket_idx" ON "ticket_messages" USING btree ("ticket_id","seq");--> statement-breakpoint
CREATE INDEX "ticket_messages_email_idx" ON "ticket_messages" USING btree ("email_message_id") WHERE "ticket_messages"."email_message_id" IS NOT NULL;--> statement-breakpoint
CREATE INDEX "ticket_pauses_period_idx" ON "ticket_pauses" USING btree ("period_id","started_at");--> statement-breakpoint
CREATE INDEX "ticket_periods_ticket_idx" ON "ticket_periods" USING btree ("ticket_id","started_at");--> statement-breakpoint
CREATE INDEX "ticket_periods_ended_idx" ON "ticket_periods" USING btree ("ended_at") WHERE "ticket_periods"."ended_at" IS NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "ticket_periods_running_idx" ON "ticket_periods" USING btree ("ticket_id") WHERE "ticket_periods"."ended_at" IS NULL;--> statement-breakpoint
CREATE INDEX "ticket_priority_changes_ticket_idx" ON "ticket_priority_changes" USING btree ("ticket_id","id");--> statement-breakpoint
CREATE INDEX "tickets_account_idx" ON "tickets" USING btree ("account_id","created_at");--> statement-breakpoint
CREATE INDEX "tickets_timer_idx" ON "tickets" USING btree ("next_timer_at") WHERE "tickets"."next_timer_at" IS NOT NULL;
--> statement-breakpoint
INSERT INTO "ticket_calendars" ("id", "name", "spec", "is_default") VALUES ('business', 'Business hours (R-TKT-3)', '{"timeZone":"UTC","week":{"1":[{"start":"09:00","end":"18:00"}],"2":[{"start":"09:00","end":"18:00"}],"3":[{"start":"09:00","end":"18:00"}],"4":[{"start":"09:00","end":"18:00"}],"5":[{"start":"09:00","end":"18:00"}]},"holidays":[]}', true);
--> statement-breakpoint
INSERT INTO "ticket_priority_criteria" ("product", "priority", "criteria") VALUES
('general', 'emergency', '["The product interrupts your business: it stops working, loses data, or becomes insecure", "The product cannot be updated, installed for a migration, or reached at all", "You cannot log in as an administrator", "You cannot order or renew the product"]'),
('general', 'high', '["Part of the product does not work, without data loss or an outage", "Core functions are affected but a workaround exists until the fix", "A resource of ours the product needs (the API, the documentation) is unavailable"]'),
('general', 'medium', '["A function outside the core is affected and a workaround exists until the fix"]'),
('general', 'low', '["A question about how the product works, and anything not listed above"]'),
('domains', 'emergency', '["Domains cannot be registered or renewed at all", "A domain of yours stopped resolving because of our systems"]'),
('domains', 'high', '["Transfers, contact or name-server updates fail for some domains (the API still answers)"]'),
('domains', 'medium', '["An auth code, a WHOIS detail or a notification is wrong or late"]'),
('domains', 'low', '["A question about registration rules, prices or the API"]'),
('licenses', 'emergency', '["Every Plesk license of yours is refused by the servers it is bound to", "Licenses cannot be ordered or renewed"]'),
('licenses', 'high', '["A license cannot be bound or rebound to its server''s address", "A multi-use notice looks wrong and the notice period is running"]'),
('licenses', 'medium', '["A license shows the wrong edition or extras"]'),
('licenses', 'low', '["A question about editions, EULA versions or prices"]'),
('spam_filter', 'emergency', '["Mail for your domains is not delivered at all"]'),
('spam_filter', 'high', '["Mail is delayed or some destinations are unreachable"]'),
('spam_filter', 'medium', '["Mailbox counts or overage projections look wrong"]'),
('spam_filter', 'low', '["A question about products, aliases or the included mailboxes"]'),
('hosting', 'emergency', '["Every customer of a subscription is down or cannot be reached", "Data was lost on the hosting server"]'),
('hosting', 'high', '["Customers cannot be created, suspended or resumed (the API still answers)", "A suspension for overuse looks wrong"]'),
('hosting', 'medium', '["An add-on (WHMCS key, dedicated address) is not delivered or does not work"]'),
('hosting', 'low', '["A question about plans, limits or add-ons"]');
