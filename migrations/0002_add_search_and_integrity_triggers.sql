-- unaccent() is only STABLE because it looks its dictionary up by name; naming the dictionary
-- makes the result depend on the input alone, so it can feed indexes and stored search columns.
CREATE FUNCTION fold_text(input text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
AS $$ SELECT lower(public.unaccent('public.unaccent'::regdictionary, input)) $$;
--> statement-breakpoint
-- One document searchable in English, French and Russian (stemmed) and as plain words.
CREATE FUNCTION search_vector(document text) RETURNS tsvector
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
  SELECT to_tsvector('english'::regconfig, d) || to_tsvector('french'::regconfig, d)
      || to_tsvector('russian'::regconfig, d) || to_tsvector('simple'::regconfig, d)
  FROM fold_text(coalesce(document, '')) AS d
$$;
--> statement-breakpoint
CREATE FUNCTION search_query(input text) RETURNS tsquery
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
AS $$
  SELECT websearch_to_tsquery('english'::regconfig, q) || websearch_to_tsquery('french'::regconfig, q)
      || websearch_to_tsquery('russian'::regconfig, q) || websearch_to_tsquery('simple'::regconfig, q)
  FROM fold_text(input) AS q
$$;
--> statement-breakpoint
CREATE FUNCTION companies_set_name_search() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  -- The unit separator keeps a substring match from spanning two names.
  NEW.name_search := fold_text(array_to_string(NEW.name || NEW.aliases, chr(31)));
  RETURN NEW;
END
$$;
--> statement-breakpoint
CREATE TRIGGER companies_set_name_search BEFORE INSERT OR UPDATE OF name, aliases ON companies
FOR EACH ROW EXECUTE FUNCTION companies_set_name_search();
--> statement-breakpoint
CREATE FUNCTION refresh_event_search(event_ids uuid[]) RETURNS void
LANGUAGE sql
AS $$
  UPDATE events e SET search = setweight(search_vector(array_to_string(c.name || c.aliases, ' ')), 'A')
      || setweight(search_vector(e.service), 'B')
      || setweight(search_vector(e.summary), 'C')
      || setweight(search_vector((
        SELECT string_agg(concat_ws(' ', s.title, es.quote), ' ')
        FROM event_sources es JOIN sources s ON s.id = es.source_id
        WHERE es.event_id = e.id)), 'D')
  FROM companies c, unnest(event_ids) AS target(id)
  WHERE e.id = target.id AND c.id = e.company_id
$$;
--> statement-breakpoint
-- An event that is live must name a live company. The row lock orders this against a concurrent delete.
CREATE FUNCTION events_require_live_company() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  IF NEW.deleted_at IS NULL THEN
    PERFORM 1 FROM companies WHERE id = NEW.company_id AND deleted_at IS NULL FOR SHARE;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'company % does not exist or is deleted', NEW.company_id
        USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'events_company_live';
    END IF;
  END IF;
  RETURN NEW;
END
$$;
--> statement-breakpoint
CREATE TRIGGER events_require_live_company BEFORE INSERT OR UPDATE OF company_id, deleted_at ON events
FOR EACH ROW EXECUTE FUNCTION events_require_live_company();
--> statement-breakpoint
CREATE FUNCTION companies_forbid_delete_with_events() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  IF NEW.deleted_at IS NOT NULL AND OLD.deleted_at IS NULL
     AND EXISTS (SELECT 1 FROM events WHERE company_id = NEW.id AND deleted_at IS NULL) THEN
    RAISE EXCEPTION 'company % still has events', NEW.id
      USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'companies_delete_with_events';
  END IF;
  RETURN NEW;
END
$$;
--> statement-breakpoint
CREATE TRIGGER companies_forbid_delete_with_events BEFORE UPDATE OF deleted_at ON companies
FOR EACH ROW EXECUTE FUNCTION companies_forbid_delete_with_events();
--> statement-breakpoint
-- History is append-only.
CREATE FUNCTION revisions_append_only() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  RAISE EXCEPTION 'revisions are append-only' USING ERRCODE = 'insufficient_privilege';
END
$$;
--> statement-breakpoint
CREATE TRIGGER revisions_append_only BEFORE UPDATE OR DELETE ON revisions
FOR EACH ROW EXECUTE FUNCTION revisions_append_only();
