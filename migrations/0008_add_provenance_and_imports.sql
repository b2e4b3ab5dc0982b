CREATE TABLE "import_errors" (
	"import_id" uuid NOT NULL,
	"line" integer NOT NULL,
	"field" text NOT NULL,
	"message" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "imports" (
	"id" uuid PRIMARY KEY NOT NULL,
	"format" text NOT NULL,
	"mode" text NOT NULL,
	"status" text DEFAULT 'queued' NOT NULL,
	"api_key_id" uuid,
	"lines_total" integer,
	"lines_done" integer DEFAULT 0 NOT NULL,
	"created" integer DEFAULT 0 NOT NULL,
	"updated" integer DEFAULT 0 NOT NULL,
	"unchanged" integer DEFAULT 0 NOT NULL,
	"rejected" integer DEFAULT 0 NOT NULL,
	"failure" text,
	"created_at" timestamp(6) with time zone DEFAULT now() NOT NULL,
	"started_at" timestamp(6) with time zone,
	"finished_at" timestamp(6) with time zone,
	CONSTRAINT "imports_status_enum" CHECK (status IN ('queued', 'running', 'done', 'failed')),
	CONSTRAINT "imports_mode_enum" CHECK (mode IN ('atomic', 'partial')),
	CONSTRAINT "imports_format_length" CHECK (char_length("imports"."format") BETWEEN 1 AND 50)
);
--> statement-breakpoint
ALTER TABLE "sources" ADD COLUMN "kind" text;--> statement-breakpoint
ALTER TABLE "sources" ADD COLUMN "archived_url" text;--> statement-breakpoint
ALTER TABLE "sources" ADD COLUMN "license" text;--> statement-breakpoint
ALTER TABLE "import_errors" ADD CONSTRAINT "import_errors_import_id_imports_id_fk" FOREIGN KEY ("import_id") REFERENCES "public"."imports"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "imports" ADD CONSTRAINT "imports_api_key_id_api_keys_id_fk" FOREIGN KEY ("api_key_id") REFERENCES "public"."api_keys"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "import_errors_import_line_idx" ON "import_errors" USING btree ("import_id","line");--> statement-breakpoint
ALTER TABLE "sources" ADD CONSTRAINT "sources_kind_enum" CHECK (kind IN ('company_statement', 'regulatory_filing', 'registry_record', 'media_report', 'dataset'));--> statement-breakpoint
ALTER TABLE "sources" ADD CONSTRAINT "sources_archived_url_format" CHECK ("sources"."archived_url" ~ '^https?://' AND char_length("sources"."archived_url") <= 2048);--> statement-breakpoint
ALTER TABLE "sources" ADD CONSTRAINT "sources_license_length" CHECK (char_length("sources"."license") <= 200);