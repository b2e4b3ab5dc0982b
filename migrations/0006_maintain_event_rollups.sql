-- Adds signed counts to the year rollup. Growth is upserted and shrinkage updated in place (a negative
-- count must never be proposed as a new row, or the CHECK refuses it); keys go in order, so that
-- concurrent writers lock rollup rows in one order.
CREATE FUNCTION add_year_count_deltas(years date[], regions text[], actions text[], sectors text[], countries text[], deltas int[])
RETURNS void
LANGUAGE sql
AS $$
  WITH deltas AS (
    SELECT year, region, action, sector, country, sum(delta)::int AS delta
    FROM unnest(years, regions, actions, sectors, countries, deltas) AS d(year, region, action, sector, country, delta)
    GROUP BY 1, 2, 3, 4, 5 HAVING sum(delta) <> 0
  ),
  growth AS (
    INSERT INTO event_year_counts AS t (year, region, action, sector, country, events)
    SELECT year, region, action, sector, country, delta FROM deltas WHERE delta > 0 ORDER BY 1, 2, 3, 4, 5
    ON CONFLICT ON CONSTRAINT event_year_counts_key DO UPDATE SET events = t.events + excluded.events
    RETURNING 1
  )
  UPDATE event_year_counts t SET events = t.events + d.delta FROM deltas d
  WHERE d.delta < 0 AND t.year = d.year AND t.region = d.region AND t.action = d.action
    AND t.sector IS NOT DISTINCT FROM d.sector AND t.country IS NOT DISTINCT FROM d.country
$$;
--> statement-breakpoint
-- Adds signed event counts to both rollups, the same way; net-zero changes (an update that moves
-- nothing) touch no row.
CREATE FUNCTION add_event_rollup_deltas(company_ids uuid[], regions text[], actions text[], dates date[], deltas int[])
RETURNS void
LANGUAGE sql
AS $$
  WITH changes AS (
    SELECT * FROM unnest(company_ids, regions, actions, dates, deltas) AS c(company_id, region, action, date, delta)
  ),
  month_deltas AS (
    SELECT date_trunc('month', date)::date AS month, region, action, sum(delta)::int AS delta
    FROM changes GROUP BY 1, 2, 3 HAVING sum(delta) <> 0
  ),
  month_growth AS (
    INSERT INTO event_month_counts AS t (month, region, action, events)
    SELECT month, region, action, delta FROM month_deltas WHERE delta > 0 ORDER BY 1, 2, 3
    ON CONFLICT (month, region, action) DO UPDATE SET events = t.events + excluded.events
    RETURNING 1
  ),
  month_shrinkage AS (
    UPDATE event_month_counts t SET events = t.events + d.delta FROM month_deltas d
    WHERE d.delta < 0 AND t.month = d.month AND t.region = d.region AND t.action = d.action
    RETURNING 1
  )
  SELECT add_year_count_deltas(array_agg(date_trunc('year', c.date)::date), array_agg(c.region), array_agg(c.action),
    array_agg(co.sector), array_agg(co.country), array_agg(c.delta))
  FROM changes c JOIN companies co ON co.id = c.company_id
$$;
--> statement-breakpoint
CREATE FUNCTION events_rollup_insert() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  PERFORM add_event_rollup_deltas(array_agg(company_id), array_agg(region), array_agg(action), array_agg(date), array_agg(1))
  FROM new_rows WHERE deleted_at IS NULL;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE FUNCTION events_rollup_update() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  PERFORM add_event_rollup_deltas(array_agg(company_id), array_agg(region), array_agg(action), array_agg(date), array_agg(delta))
  FROM (
    SELECT company_id, region, action, date, 1 AS delta FROM new_rows WHERE deleted_at IS NULL
    UNION ALL
    SELECT company_id, region, action, date, -1 FROM old_rows WHERE deleted_at IS NULL
  ) c;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE FUNCTION events_rollup_delete() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  PERFORM add_event_rollup_deltas(array_agg(company_id), array_agg(region), array_agg(action), array_agg(date), array_agg(-1))
  FROM old_rows WHERE deleted_at IS NULL;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER events_rollup_insert AFTER INSERT ON events
REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION events_rollup_insert();
--> statement-breakpoint
CREATE TRIGGER events_rollup_update AFTER UPDATE ON events
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION events_rollup_update();
--> statement-breakpoint
CREATE TRIGGER events_rollup_delete AFTER DELETE ON events
REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION events_rollup_delete();
--> statement-breakpoint
-- A company's sector and country are part of the year rollup's key: moving them moves its events' counts.
CREATE FUNCTION companies_rollup_update() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  PERFORM add_year_count_deltas(array_agg(year), array_agg(region), array_agg(action), array_agg(sector), array_agg(country), array_agg(delta))
  FROM (
    SELECT date_trunc('year', e.date)::date AS year, e.region, e.action, o.sector, o.country, -1 AS delta
    FROM old_rows o JOIN new_rows n ON n.id = o.id JOIN events e ON e.company_id = o.id AND e.deleted_at IS NULL
    WHERE (o.sector, o.country) IS DISTINCT FROM (n.sector, n.country)
    UNION ALL
    SELECT date_trunc('year', e.date)::date, e.region, e.action, n.sector, n.country, 1
    FROM old_rows o JOIN new_rows n ON n.id = o.id JOIN events e ON e.company_id = o.id AND e.deleted_at IS NULL
    WHERE (o.sector, o.country) IS DISTINCT FROM (n.sector, n.country)
  ) moved;
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER companies_rollup_update AFTER UPDATE ON companies
REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION companies_rollup_update();
--> statement-breakpoint
-- Recounts both rollups from the events; for bulk loads that bypass triggers, and for the backfill below.
CREATE FUNCTION rebuild_event_rollups() RETURNS void
LANGUAGE sql
AS $$
  DELETE FROM event_month_counts;
  DELETE FROM event_year_counts;
  INSERT INTO event_month_counts (month, region, action, events)
  SELECT date_trunc('month', date)::date, region, action, count(*) FROM events WHERE deleted_at IS NULL GROUP BY 1, 2, 3;
  INSERT INTO event_year_counts (year, region, action, sector, country, events)
  SELECT date_trunc('year', e.date)::date, e.region, e.action, c.sector, c.country, count(*)
  FROM events e JOIN companies c ON c.id = e.company_id WHERE e.deleted_at IS NULL GROUP BY 1, 2, 3, 4, 5;
$$;
--> statement-breakpoint
SELECT rebuild_event_rollups();
