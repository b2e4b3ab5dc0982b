CREATE TABLE "api_keys" (
	"id" uuid PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"key_hash" text NOT NULL,
	"prefix" text NOT NULL,
	"scopes" text[] NOT NULL,
	"created_at" timestamp(6) with time zone DEFAULT now() NOT NULL,
	"last_used_at" timestamp(6) with time zone,
	"revoked_at" timestamp(6) with time zone,
	CONSTRAINT "api_keys_name_length" CHECK (char_length("api_keys"."name") BETWEEN 1 AND 100),
	CONSTRAINT "api_keys_scopes_valid" CHECK (cardinality("api_keys"."scopes") >= 1 AND "api_keys"."scopes" <@ ARRAY['read', 'write', 'admin'])
);
--> statement-breakpoint
CREATE TABLE "companies" (
	"id" uuid PRIMARY KEY NOT NULL,
	"name" text NOT NULL,
	"aliases" text[] DEFAULT '{}'::text[] NOT NULL,
	"country" text,
	"sector" text,
	"lei" text,
	"wikidata_id" text,
	"website" text,
	"name_search" text DEFAULT '' NOT NULL,
	"created_at" timestamp(6) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp(6) with time zone DEFAULT now() NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"deleted_at" timestamp(6) with time zone,
	CONSTRAINT "companies_name_length" CHECK (char_length("companies"."name") BETWEEN 1 AND 200),
	CONSTRAINT "companies_aliases_count" CHECK (cardinality("companies"."aliases") <= 50),
	CONSTRAINT "companies_country_format" CHECK ("companies"."country" ~ '^[A-Z]{2}$'),
	CONSTRAINT "companies_sector_length" CHECK (char_length("companies"."sector") <= 100),
	CONSTRAINT "companies_lei_format" CHECK ("companies"."lei" ~ '^[0-9A-Z]{18}[0-9]{2}$'),
	CONSTRAINT "companies_wikidata_id_format" CHECK ("companies"."wikidata_id" ~ '^Q[1-9][0-9]*$'),
	CONSTRAINT "companies_website_format" CHECK ("companies"."website" ~ '^https?://'),
	CONSTRAINT "companies_version_positive" CHECK ("companies"."version" >= 1)
);
--> statement-breakpoint
CREATE TABLE "event_sources" (
	"event_id" uuid NOT NULL,
	"source_id" uuid NOT NULL,
	"position" integer NOT NULL,
	"quote" text,
	CONSTRAINT "event_sources_event_id_source_id_pk" PRIMARY KEY("event_id","source_id"),
	CONSTRAINT "event_sources_position_range" CHECK ("event_sources"."position" BETWEEN 0 AND 19),
	CONSTRAINT "event_sources_quote_length" CHECK (char_length("event_sources"."quote") <= 2000)
);
--> statement-breakpoint
CREATE TABLE "events" (
	"id" uuid PRIMARY KEY NOT NULL,
	"company_id" uuid NOT NULL,
	"region" text NOT NULL,
	"region_country" text GENERATED ALWAYS AS (split_part(region, '-', 1)) STORED NOT NULL,
	"service" text NOT NULL,
	"action" text NOT NULL,
	"date" date NOT NULL,
	"date_precision" text DEFAULT 'day' NOT NULL,
	"effective_date" date,
	"summary" text,
	"external_id" text,
	"search" "tsvector" DEFAULT ''::tsvector NOT NULL,
	"created_at" timestamp(6) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp(6) with time zone DEFAULT now() NOT NULL,
	"version" integer DEFAULT 1 NOT NULL,
	"deleted_at" timestamp(6) with time zone,
	CONSTRAINT "events_region_format" CHECK ("events"."region" ~ '^[A-Z]{2}(-[A-Z0-9]{1,3})?$'),
	CONSTRAINT "events_service_length" CHECK (char_length("events"."service") BETWEEN 1 AND 200),
	CONSTRAINT "events_action_enum" CHECK (action IN ('exit', 'suspend', 'scale_back', 'pause_new_business', 'continue', 'resume')),
	CONSTRAINT "events_date_precision_enum" CHECK (date_precision IN ('day', 'month', 'year')),
	CONSTRAINT "events_date_precision_start" CHECK (("events"."date_precision" = 'day')
    OR ("events"."date_precision" = 'month' AND extract(day FROM "events"."date") = 1)
    OR ("events"."date_precision" = 'year' AND extract(day FROM "events"."date") = 1 AND extract(month FROM "events"."date") = 1)),
	CONSTRAINT "events_summary_length" CHECK (char_length("events"."summary") <= 2000),
	CONSTRAINT "events_external_id_length" CHECK (char_length("events"."external_id") BETWEEN 1 AND 200),
	CONSTRAINT "events_version_positive" CHECK ("events"."version" >= 1)
);
--> statement-breakpoint
CREATE TABLE "revisions" (
	"id" uuid PRIMARY KEY NOT NULL,
	"resource_type" text NOT NULL,
	"resource_id" uuid NOT NULL,
	"operation" text NOT NULL,
	"version" integer NOT NULL,
	"data" jsonb NOT NULL,
	"api_key_id" uuid,
	"occurred_at" timestamp(6) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "revisions_resource_type_enum" CHECK (resource_type IN ('event', 'company')),
	CONSTRAINT "revisions_operation_enum" CHECK (operation IN ('created', 'updated', 'deleted', 'restored'))
);
--> statement-breakpoint
CREATE TABLE "sources" (
	"id" uuid PRIMARY KEY NOT NULL,
	"url" text NOT NULL,
	"publisher" text,
	"title" text,
	"published_date" date,
	"language" text,
	"created_at" timestamp(6) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp(6) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "sources_url_format" CHECK ("sources"."url" ~ '^https?://' AND char_length("sources"."url") <= 2048),
	CONSTRAINT "sources_publisher_length" CHECK (char_length("sources"."publisher") <= 200),
	CONSTRAINT "sources_title_length" CHECK (char_length("sources"."title") <= 500)
);
--> statement-breakpoint
ALTER TABLE "event_sources" ADD CONSTRAINT "event_sources_event_id_fkey" FOREIGN KEY ("event_id") REFERENCES "public"."events"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "event_sources" ADD CONSTRAINT "event_sources_source_id_fkey" FOREIGN KEY ("source_id") REFERENCES "public"."sources"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "events" ADD CONSTRAINT "events_company_id_fkey" FOREIGN KEY ("company_id") REFERENCES "public"."companies"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "revisions" ADD CONSTRAINT "revisions_api_key_id_fkey" FOREIGN KEY ("api_key_id") REFERENCES "public"."api_keys"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "api_keys_key_hash_key" ON "api_keys" USING btree ("key_hash");--> statement-breakpoint
CREATE UNIQUE INDEX "api_keys_name_active_key" ON "api_keys" USING btree ("name") WHERE revoked_at IS NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "companies_lei_live_key" ON "companies" USING btree ("lei") WHERE deleted_at IS NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "companies_wikidata_id_live_key" ON "companies" USING btree ("wikidata_id") WHERE deleted_at IS NULL;--> statement-breakpoint
CREATE INDEX "companies_name_keyset_idx" ON "companies" USING btree ("name","id") WHERE deleted_at IS NULL;--> statement-breakpoint
CREATE INDEX "companies_created_keyset_idx" ON "companies" USING btree ("created_at","id") WHERE deleted_at IS NULL;--> statement-breakpoint
CREATE INDEX "companies_updated_keyset_idx" ON "companies" USING btree ("updated_at","id") WHERE deleted_at IS NULL;--> statement-breakpoint
CREATE INDEX "companies_name_search_trgm_idx" ON "companies" USING gin ("name_search" gin_trgm_ops) WHERE deleted_at IS NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "event_sources_event_position_key" ON "event_sources" USING btree ("event_id","position");--> statement-breakpoint
CREATE INDEX "event_sources_source_idx" ON "event_sources" USING btree ("source_id");--> statement-breakpoint
CREATE UNIQUE INDEX "events_external_id_live_key" ON "events" USING btree ("external_id") WHERE deleted_at IS NULL;--> statement-breakpoint
CREATE INDEX "events_date_keyset_idx" ON "events" USING btree ("date","id") WHERE deleted_at IS NULL;--> statement-breakpoint
CREATE INDEX "events_created_keyset_idx" ON "events" USING btree ("created_at","id") WHERE deleted_at IS NULL;--> statement-breakpoint
CREATE INDEX "events_updated_keyset_idx" ON "events" USING btree ("updated_at","id") WHERE deleted_at IS NULL;--> statement-breakpoint
CREATE INDEX "events_company_date_idx" ON "events" USING btree ("company_id","date","id") WHERE deleted_at IS NULL;--> statement-breakpoint
CREATE INDEX "events_region_date_idx" ON "events" USING btree ("region","date","id") WHERE deleted_at IS NULL;--> statement-breakpoint
CREATE INDEX "events_region_country_date_idx" ON "events" USING btree ("region_country","date","id") WHERE deleted_at IS NULL;--> statement-breakpoint
CREATE INDEX "events_action_date_idx" ON "events" USING btree ("action","date","id") WHERE deleted_at IS NULL;--> statement-breakpoint
CREATE INDEX "events_search_idx" ON "events" USING gin ("search") WHERE deleted_at IS NULL;--> statement-breakpoint
CREATE INDEX "events_service_trgm_idx" ON "events" USING gin (lower("service") gin_trgm_ops) WHERE deleted_at IS NULL;--> statement-breakpoint
CREATE INDEX "revisions_resource_idx" ON "revisions" USING btree ("resource_type","resource_id","version");--> statement-breakpoint
CREATE UNIQUE INDEX "sources_url_key" ON "sources" USING btree ("url");