-- The rollups locked the rows that grow in key order but the rows that shrink in whatever order the join gave, in the
-- same statement, and the year rows could be reached while month rows were still being locked: three concurrent
-- updates of events deadlocked. Now each change locks, one statement after the other: the existing month rows of
-- every key it touches in key order, then inserts the new month keys in order, then the same for the year rollup,
-- so any two writers take their locks in one order.
CREATE OR REPLACE FUNCTION add_year_count_deltas(years date[], regions text[], actions text[], sectors text[], countries text[], deltas int[])
RETURNS void
LANGUAGE sql
AS $$
  SELECT 1 FROM event_year_counts t
  JOIN (SELECT DISTINCT year, region, action, sector, country
    FROM unnest(years, regions, actions, sectors, countries) AS d(year, region, action, sector, country)) d
    ON t.year = d.year AND t.region = d.region AND t.action = d.action
    AND t.sector IS NOT DISTINCT FROM d.sector AND t.country IS NOT DISTINCT FROM d.country
  ORDER BY t.year, t.region, t.action, t.sector, t.country
  FOR UPDATE OF t;
  INSERT INTO event_year_counts AS t (year, region, action, sector, country, events)
  SELECT year, region, action, sector, country, sum(delta)::int
  FROM unnest(years, regions, actions, sectors, countries, deltas) AS d(year, region, action, sector, country, delta)
  GROUP BY 1, 2, 3, 4, 5 HAVING sum(delta) > 0 ORDER BY 1, 2, 3, 4, 5
  ON CONFLICT ON CONSTRAINT event_year_counts_key DO UPDATE SET events = t.events + excluded.events;
  UPDATE event_year_counts t SET events = t.events + d.delta
  FROM (SELECT year, region, action, sector, country, sum(delta)::int AS delta
    FROM unnest(years, regions, actions, sectors, countries, deltas) AS d(year, region, action, sector, country, delta)
    GROUP BY 1, 2, 3, 4, 5 HAVING sum(delta) < 0) d
  WHERE t.year = d.year AND t.region = d.region AND t.action = d.action
    AND t.sector IS NOT DISTINCT FROM d.sector AND t.country IS NOT DISTINCT FROM d.country;
$$;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION add_event_rollup_deltas(company_ids uuid[], regions text[], actions text[], dates date[], deltas int[])
RETURNS void
LANGUAGE sql
AS $$
  SELECT 1 FROM event_month_counts t
  JOIN (SELECT DISTINCT date_trunc('month', date)::date AS month, region, action
    FROM unnest(regions, actions, dates) AS c(region, action, date)) d
    ON t.month = d.month AND t.region = d.region AND t.action = d.action
  ORDER BY t.month, t.region, t.action
  FOR UPDATE OF t;
  INSERT INTO event_month_counts AS t (month, region, action, events)
  SELECT date_trunc('month', date)::date, region, action, sum(delta)::int
  FROM unnest(regions, actions, dates, deltas) AS c(region, action, date, delta)
  GROUP BY 1, 2, 3 HAVING sum(delta) > 0 ORDER BY 1, 2, 3
  ON CONFLICT (month, region, action) DO UPDATE SET events = t.events + excluded.events;
  UPDATE event_month_counts t SET events = t.events + d.delta
  FROM (SELECT date_trunc('month', date)::date AS month, region, action, sum(delta)::int AS delta
    FROM unnest(regions, actions, dates, deltas) AS c(region, action, date, delta)
    GROUP BY 1, 2, 3 HAVING sum(delta) < 0) d
  WHERE t.month = d.month AND t.region = d.region AND t.action = d.action;
  SELECT add_year_count_deltas(array_agg(date_trunc('year', c.date)::date), array_agg(c.region), array_agg(c.action),
    array_agg(co.sector), array_agg(co.country), array_agg(c.delta))
  FROM unnest(company_ids, regions, actions, dates, deltas) AS c(company_id, region, action, date, delta)
  JOIN companies co ON co.id = c.company_id;
$$;
