CREATE TABLE "scope_declarations" (
	"name" text PRIMARY KEY NOT NULL,
	"declared" boolean NOT NULL,
	"retired_at" timestamp with time zone
);
