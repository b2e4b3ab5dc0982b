-- The key under which names are compared: case and accents folded, punctuation to spaces, and legal-form
-- words dropped ("AMAZON.COM, INC." and "Amazon.com" share "amazon com"). A name made only of such words keeps them.
CREATE FUNCTION name_key(input text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
AS $$
  SELECT coalesce(nullif(btrim(regexp_replace(regexp_replace(words,
      '(^| )(inc|incorporated|corp|corporation|co|company|ltd|limited|llc|lp|plc|ag|sa|se|nv|bv|gmbh|kg|kgaa|spa|srl|oy|oyj|ab|as|asa|pjsc|ojsc|jsc|ooo|oao|pao|zao|ооо|оао|пао|зао|ао|group|holding|holdings)(?= |$)',
      '', 'g'), ' +', ' ', 'g')), ''), btrim(words))
  FROM regexp_replace(fold_text(input), '[^[:alnum:]]+', ' ', 'g') AS words
$$;
--> statement-breakpoint
CREATE FUNCTION companies_sync_names() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
  DELETE FROM company_names WHERE company_id = NEW.id;
  INSERT INTO company_names (company_id, position, kind, name, key)
  SELECT NEW.id, n.position - 1, CASE WHEN n.position = 1 THEN 'name' ELSE 'alias' END, n.name, name_key(n.name)
  FROM unnest(NEW.name || NEW.aliases) WITH ORDINALITY AS n(name, position);
  RETURN NULL;
END
$$;
--> statement-breakpoint
CREATE TRIGGER companies_sync_names AFTER INSERT OR UPDATE OF name, aliases ON companies
FOR EACH ROW EXECUTE FUNCTION companies_sync_names();
--> statement-breakpoint
INSERT INTO company_names (company_id, position, kind, name, key)
SELECT c.id, n.position - 1, CASE WHEN n.position = 1 THEN 'name' ELSE 'alias' END, n.name, name_key(n.name)
FROM companies c, unnest(c.name || c.aliases) WITH ORDINALITY AS n(name, position);
