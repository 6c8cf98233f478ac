CREATE TABLE "spam_filter_names" (
	"name" text PRIMARY KEY NOT NULL,
	"domain_id" uuid NOT NULL,
	"kind" text NOT NULL
);
--> statement-breakpoint
ALTER TABLE "spam_filter_names" ADD CONSTRAINT "spam_filter_names_domain_id_spam_filter_domains_id_fk" FOREIGN KEY ("domain_id") REFERENCES "public"."spam_filter_domains"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "spam_filter_names_domain_idx" ON "spam_filter_names" USING btree ("domain_id");--> statement-breakpoint
-- Existing domains claim their names (unique already), then their aliases, the earliest domain first;
-- an alias another domain claimed first (its name, or an older domain's alias) is dropped from the
-- later domain, so that every name and alias is held by one domain only (R-LIC-4).
INSERT INTO "spam_filter_names" ("name", "domain_id", "kind")
  SELECT "name", "id", 'name' FROM "spam_filter_domains";--> statement-breakpoint
INSERT INTO "spam_filter_names" ("name", "domain_id", "kind")
  SELECT a."alias", d."id", 'alias'
  FROM "spam_filter_domains" d CROSS JOIN LATERAL unnest(d."aliases") AS a("alias")
  ORDER BY d."created_at", d."id", a."alias"
  ON CONFLICT ("name") DO NOTHING;--> statement-breakpoint
UPDATE "spam_filter_domains" d
  SET "aliases" = coalesce(
    (SELECT array_agg(n."name" ORDER BY n."name") FROM "spam_filter_names" n
      WHERE n."domain_id" = d."id" AND n."kind" = 'alias'),
    '{}'::text[])
  WHERE cardinality(d."aliases") > 0;
