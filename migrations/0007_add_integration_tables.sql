CREATE TABLE "idempotency_keys" (
	"api_key_id" uuid NOT NULL,
	"key" text NOT NULL,
	"fingerprint" text NOT NULL,
	"response_status" integer,
	"response_headers" jsonb,
	"response_body" jsonb,
	"created_at" timestamp(6) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "idempotency_keys_api_key_id_key_pk" PRIMARY KEY("api_key_id","key"),
	CONSTRAINT "idempotency_keys_key_length" CHECK (char_length("idempotency_keys"."key") BETWEEN 1 AND 255)
);
--> statement-breakpoint
CREATE TABLE "webhook_deliveries" (
	"id" uuid PRIMARY KEY NOT NULL,
	"subscription_id" uuid NOT NULL,
	"revision_id" uuid NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"last_attempt_at" timestamp(6) with time zone,
	"last_response_status" integer,
	"last_error" text,
	"created_at" timestamp(6) with time zone DEFAULT now() NOT NULL,
	"delivered_at" timestamp(6) with time zone,
	CONSTRAINT "webhook_deliveries_subscription_revision_key" UNIQUE("subscription_id","revision_id"),
	CONSTRAINT "webhook_deliveries_status_enum" CHECK (status IN ('pending', 'succeeded', 'failed'))
);
--> statement-breakpoint
CREATE TABLE "webhook_dispatch_cursor" (
	"id" integer PRIMARY KEY NOT NULL,
	"txid" "xid8" NOT NULL,
	"revision_id" uuid NOT NULL,
	CONSTRAINT "webhook_dispatch_cursor_single_row" CHECK ("webhook_dispatch_cursor"."id" = 1)
);
--> statement-breakpoint
CREATE TABLE "webhook_subscriptions" (
	"id" uuid PRIMARY KEY NOT NULL,
	"url" text NOT NULL,
	"secret" text NOT NULL,
	"filters" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"api_key_id" uuid,
	"created_at" timestamp(6) with time zone DEFAULT now() NOT NULL,
	"deleted_at" timestamp(6) with time zone,
	CONSTRAINT "webhook_subscriptions_url_length" CHECK (char_length("webhook_subscriptions"."url") BETWEEN 1 AND 2000),
	CONSTRAINT "webhook_subscriptions_url_scheme" CHECK ("webhook_subscriptions"."url" ~ '^https?://'),
	CONSTRAINT "webhook_subscriptions_secret_length" CHECK (char_length("webhook_subscriptions"."secret") BETWEEN 16 AND 200)
);
--> statement-breakpoint
ALTER TABLE "revisions" ADD COLUMN "txid" "xid8" DEFAULT pg_current_xact_id() NOT NULL;--> statement-breakpoint
ALTER TABLE "revisions" ADD COLUMN "change_reason" text;--> statement-breakpoint
ALTER TABLE "idempotency_keys" ADD CONSTRAINT "idempotency_keys_api_key_id_api_keys_id_fk" FOREIGN KEY ("api_key_id") REFERENCES "public"."api_keys"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_subscription_id_webhook_subscriptions_id_fk" FOREIGN KEY ("subscription_id") REFERENCES "public"."webhook_subscriptions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "webhook_deliveries" ADD CONSTRAINT "webhook_deliveries_revision_id_revisions_id_fk" FOREIGN KEY ("revision_id") REFERENCES "public"."revisions"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "webhook_subscriptions" ADD CONSTRAINT "webhook_subscriptions_api_key_id_api_keys_id_fk" FOREIGN KEY ("api_key_id") REFERENCES "public"."api_keys"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "idempotency_keys_created_at_idx" ON "idempotency_keys" USING btree ("created_at");--> statement-breakpoint
CREATE INDEX "webhook_deliveries_subscription_idx" ON "webhook_deliveries" USING btree ("subscription_id","id");--> statement-breakpoint
CREATE INDEX "revisions_feed_idx" ON "revisions" USING btree ("txid","id");--> statement-breakpoint
ALTER TABLE "revisions" ADD CONSTRAINT "revisions_change_reason_length" CHECK (char_length("revisions"."change_reason") <= 500);--> statement-breakpoint
INSERT INTO "webhook_dispatch_cursor" ("id", "txid", "revision_id") VALUES (1, '0', '00000000-0000-0000-0000-000000000000');
