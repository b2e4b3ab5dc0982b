CREATE TABLE "company_names" (
	"company_id" uuid NOT NULL,
	"position" integer NOT NULL,
	"kind" text NOT NULL,
	"name" text NOT NULL,
	"key" text NOT NULL,
	CONSTRAINT "company_names_company_id_position_pk" PRIMARY KEY("company_id","position"),
	CONSTRAINT "company_names_kind_enum" CHECK (kind IN ('name', 'alias'))
);
--> statement-breakpoint
ALTER TABLE "company_names" ADD CONSTRAINT "company_names_company_id_fkey" FOREIGN KEY ("company_id") REFERENCES "public"."companies"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "company_names_key_trgm_idx" ON "company_names" USING gin ("key" gin_trgm_ops);--> statement-breakpoint
CREATE INDEX "events_posture_idx" ON "events" USING btree ("company_id","region","service","date","created_at","id") WHERE deleted_at IS NULL;