CREATE TABLE "webhook_queue" (
	"id" bigint PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "webhook_queue_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1),
	"endpoint_id" uuid NOT NULL,
	"account_id" uuid NOT NULL,
	"delivery_ids" uuid[] NOT NULL,
	"event_ids" uuid[] NOT NULL,
	"trigger" text DEFAULT 'event' NOT NULL,
	"leased_until" timestamp (3) with time zone,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
DROP INDEX "webhook_deliveries_fanout_key";--> statement-breakpoint
ALTER TABLE "webhook_deliveries" ADD COLUMN "last_duration_ms" integer;--> statement-breakpoint
ALTER TABLE "webhook_deliveries" ADD COLUMN "last_response_body" text;--> statement-breakpoint
ALTER TABLE "webhook_queue" ADD CONSTRAINT "webhook_queue_endpoint_id_webhook_endpoints_id_fk" FOREIGN KEY ("endpoint_id") REFERENCES "public"."webhook_endpoints"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "webhook_queue_endpoint_idx" ON "webhook_queue" USING btree ("endpoint_id","id");--> statement-breakpoint
-- Each delivery's latest attempt moves onto the delivery row; webhook_attempts keeps the earlier ones.
UPDATE "webhook_deliveries" d SET "last_duration_ms" = a."duration_ms", "last_response_body" = a."response_body"
FROM (SELECT DISTINCT ON ("delivery_id") "delivery_id", "duration_ms", "response_body" FROM "webhook_attempts"
      ORDER BY "delivery_id", "id" DESC) a
WHERE a."delivery_id" = d."id";--> statement-breakpoint
DELETE FROM "webhook_attempts" WHERE "id" IN (SELECT max("id") FROM "webhook_attempts" GROUP BY "delivery_id");--> statement-breakpoint
ALTER TABLE "webhook_attempts" DROP COLUMN "request_body";