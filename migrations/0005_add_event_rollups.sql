CREATE TABLE "event_month_counts" (
	"month" date NOT NULL,
	"region" text NOT NULL,
	"action" text NOT NULL,
	"events" integer NOT NULL,
	CONSTRAINT "event_month_counts_month_region_action_pk" PRIMARY KEY("month","region","action"),
	CONSTRAINT "event_month_counts_events_nonnegative" CHECK ("event_month_counts"."events" >= 0)
);
--> statement-breakpoint
CREATE TABLE "event_year_counts" (
	"year" date NOT NULL,
	"region" text NOT NULL,
	"action" text NOT NULL,
	"sector" text,
	"country" text,
	"events" integer NOT NULL,
	CONSTRAINT "event_year_counts_key" UNIQUE NULLS NOT DISTINCT("year","region","action","sector","country"),
	CONSTRAINT "event_year_counts_events_nonnegative" CHECK ("event_year_counts"."events" >= 0)
);
