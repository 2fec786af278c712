ALTER TABLE "auth_tokens" ADD COLUMN "rate_limit_max" integer;--> statement-breakpoint
ALTER TABLE "auth_tokens" ADD COLUMN "rate_limit_window_seconds" integer;--> statement-breakpoint
ALTER TABLE "auth_tokens" ADD CONSTRAINT "auth_tokens_rate_limit_complete" CHECK (("auth_tokens"."rate_limit_max" is null) = ("auth_tokens"."rate_limit_window_seconds" is null));