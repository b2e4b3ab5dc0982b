-- An event's search document in one place: the company's names (weight A), the service (B), the summary (C) and the
-- titles and quotes of its sources (D). Creates and updates write it with the row; refresh_event_search makes it
-- again when a company's names or a cited source's title change. PL/pgSQL, like search_vector: a SQL function
-- would not be inlined and would start an executor per call.
CREATE FUNCTION event_search_document(names text[], service text, summary text, source_text text) RETURNS tsvector
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
  RETURN setweight(search_vector(array_to_string(names, ' ')), 'A') || setweight(search_vector(service), 'B')
      || setweight(search_vector(summary), 'C') || setweight(search_vector(source_text), 'D');
END
$$;
--> statement-breakpoint
-- The sources' text in citation order, as a create makes it (before, in whatever order the join returned them).
CREATE OR REPLACE FUNCTION refresh_event_search(event_ids uuid[]) RETURNS void
LANGUAGE sql
AS $$
  UPDATE events e SET search = event_search_document(c.name || c.aliases, e.service, e.summary, (
        SELECT string_agg(concat_ws(' ', s.title, es.quote), ' ' ORDER BY es.position)
        FROM event_sources es JOIN sources s ON s.id = es.source_id
        WHERE es.event_id = e.id))
  FROM companies c, unnest(event_ids) AS target(id)
  WHERE e.id = target.id AND c.id = e.company_id
$$;
