-- Both extensions ship with PostgreSQL's contrib and with PGlite, and are trusted (no superuser needed).
CREATE EXTENSION IF NOT EXISTS pg_trgm;
--> statement-breakpoint
CREATE EXTENSION IF NOT EXISTS unaccent;
