ALTER TABLE "companies" DROP CONSTRAINT "companies_website_format";--> statement-breakpoint
ALTER TABLE "sources" DROP CONSTRAINT "sources_archived_url_format";--> statement-breakpoint
ALTER TABLE "webhook_subscriptions" DROP CONSTRAINT "webhook_subscriptions_url_scheme";--> statement-breakpoint
ALTER TABLE "companies" ADD CONSTRAINT "companies_website_format" CHECK ("companies"."website" ~* '^https?://');--> statement-breakpoint
ALTER TABLE "sources" ADD CONSTRAINT "sources_archived_url_format" CHECK ("sources"."archived_url" ~* '^https?://' AND char_length("sources"."archived_url") <= 2048);--> statement-breakpoint
ALTER TABLE "webhook_subscriptions" ADD CONSTRAINT "webhook_subscriptions_url_scheme" CHECK ("webhook_subscriptions"."url" ~* '^https?://');