CREATE TABLE "event_outbox" (
	"position" bigint PRIMARY KEY NOT NULL,
	"event_id" uuid NOT NULL
);
--> statement-breakpoint
-- Events not fanned out yet move to the outbox before the flag goes.
INSERT INTO "event_outbox" ("position", "event_id") SELECT "position", "id" FROM "events" WHERE NOT "fanned_out";--> statement-breakpoint
DROP INDEX "events_pending_fanout_idx";--> statement-breakpoint
DROP INDEX "events_created_at_idx";--> statement-breakpoint
ALTER TABLE "events" ALTER COLUMN "data" SET DATA TYPE json USING "data"::json;--> statement-breakpoint
CREATE INDEX "events_created_at_brin" ON "events" USING brin ("created_at");--> statement-breakpoint
ALTER TABLE "events" DROP COLUMN "fanned_out";