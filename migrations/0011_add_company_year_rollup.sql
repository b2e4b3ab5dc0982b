CREATE TABLE "event_company_year_counts" (
	"year" date NOT NULL,
	"sector" text,
	"country" text,
	"events" integer NOT NULL,
	CONSTRAINT "event_company_year_counts_key" UNIQUE NULLS NOT DISTINCT("year","sector","country"),
	CONSTRAINT "event_company_year_counts_events_nonnegative" CHECK ("event_company_year_counts"."events" >= 0)
);
--> statement-breakpoint
-- Writers wait until the new rollup is filled: one that changed event_year_counts through the old function after the
-- fill read it would be missing from the new rollup for good.
LOCK TABLE event_year_counts IN SHARE MODE;
--> statement-breakpoint
-- Both year rollups move together: every change to event_year_counts also goes, without its region and action,
-- to event_company_year_counts (the same way: growth upserted in key order, shrinkage updated in place).
CREATE OR REPLACE FUNCTION add_year_count_deltas(years date[], regions text[], actions text[], sectors text[], countries text[], deltas int[])
RETURNS void
LANGUAGE sql
AS $$
  WITH changes AS (
    SELECT * FROM unnest(years, regions, actions, sectors, countries, deltas) AS d(year, region, action, sector, country, delta)
  ),
  deltas AS (
    SELECT year, region, action, sector, country, sum(delta)::int AS delta
    FROM changes GROUP BY 1, 2, 3, 4, 5 HAVING sum(delta) <> 0
  ),
  growth AS (
    INSERT INTO event_year_counts AS t (year, region, action, sector, country, events)
    SELECT year, region, action, sector, country, delta FROM deltas WHERE delta > 0 ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT ON CONSTRAINT event_year_counts_key DO UPDATE SET events = t.events + excluded.events
    RETURNING 1
  ),
  shrinkage AS (
    UPDATE event_year_counts t SET events = t.events + d.delta FROM deltas d
    WHERE d.delta < 0 AND t.year = d.year AND t.region = d.region AND t.action = d.action
      AND t.sector IS NOT DISTINCT FROM d.sector AND t.country IS NOT DISTINCT FROM d.country
    RETURNING 1
  ),
  company_deltas AS (
    SELECT year, sector, country, sum(delta)::int AS delta
    FROM changes GROUP BY 1, 2, 3 HAVING sum(delta) <> 0
  ),
  company_growth AS (
    INSERT INTO event_company_year_counts AS t (year, sector, country, events)
    SELECT year, sector, country, delta FROM company_deltas WHERE delta > 0 ORDER BY 1, 2, 3
    ON CONFLICT ON CONSTRAINT event_company_year_counts_key DO UPDATE SET events = t.events + excluded.events
    RETURNING 1
  )
  UPDATE event_company_year_counts t SET events = t.events + d.delta FROM company_deltas d
  WHERE d.delta < 0 AND t.year = d.year AND t.sector IS NOT DISTINCT FROM d.sector AND t.country IS NOT DISTINCT FROM d.country
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION rebuild_event_rollups() RETURNS void
LANGUAGE sql
AS $$
  DELETE FROM event_month_counts;
  DELETE FROM event_year_counts;
  DELETE FROM event_company_year_counts;
  INSERT INTO event_month_counts (month, region, action, events)
  SELECT date_trunc('month', date)::date, region, action, count(*) FROM events WHERE deleted_at IS NULL GROUP BY 1, 2, 3;
  INSERT INTO event_year_counts (year, region, action, sector, country, events)
  SELECT date_trunc('year', e.date)::date, e.region, e.action, c.sector, c.country, count(*)
  FROM events e JOIN companies c ON c.id = e.company_id WHERE e.deleted_at IS NULL GROUP BY 1, 2, 3, 4, 5;
  INSERT INTO event_company_year_counts (year, sector, country, events)
  SELECT year, sector, country, sum(events) FROM event_year_counts GROUP BY 1, 2, 3;
$$;
--> statement-breakpoint
INSERT INTO event_company_year_counts (year, sector, country, events)
SELECT year, sector, country, sum(events) FROM event_year_counts GROUP BY 1, 2, 3 HAVING sum(events) > 0;
