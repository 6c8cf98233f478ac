CREATE INDEX "domain_checks_checked_idx" ON "domain_checks" USING btree ("checked_at");--> statement-breakpoint
CREATE INDEX "domain_quotes_expires_idx" ON "domain_quotes" USING btree ("expires_at");