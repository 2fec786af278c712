import { sql } from 'drizzle-orm'
import {
  boolean,
  check,
  customType,
  index,
  integer,
  jsonb,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core'

/** Case-insensitive text (the citext extension, created by the first migration). */
const citext = customType<{ data: string }>({ dataType: () => 'citext' })

/** Raw bytes; token digests are stored as 32-byte SHA-256 values. */
const bytea = customType<{ data: Buffer; driverData: Buffer }>({ dataType: () => 'bytea' })

const createdAt = () => timestamp('created_at', { withTimezone: true }).notNull().defaultNow()

export const users = pgTable('users', {
  id: uuid('id').primaryKey().defaultRandom(),
  // citext: uniqueness and lookups are case-insensitive (API.md: email_taken, username_taken)
  email: citext('email').notNull().unique('users_email_unique'),
  username: citext('username').notNull().unique('users_username_unique'),
  passwordHash: text('password_hash').notNull(),
  role: text('role', { enum: ['user', 'admin'] })
    .notNull()
    .default('user'),
  emailVerifiedAt: timestamp('email_verified_at', { withTimezone: true }),
  disabled: boolean('disabled').notNull().default(false),
  createdAt: createdAt(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
})

export const authTokens = pgTable(
  'auth_tokens',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    // SHA-256 of the secret; the secret itself is never stored
    tokenHash: bytea('token_hash').notNull(),
    kind: text('kind', { enum: ['session', 'personal'] }).notNull(),
    name: text('name').notNull(),
    scopes: text('scopes').array().notNull(),
    createdAt: createdAt(),
    expiresAt: timestamp('expires_at', { withTimezone: true }),
    lastUsedAt: timestamp('last_used_at', { withTimezone: true }),
    lastUsedIp: text('last_used_ip'),
    userAgent: text('user_agent'),
    revoked: boolean('revoked').notNull().default(false),
    revokedAt: timestamp('revoked_at', { withTimezone: true }),
    // a personal token's own budget (API.md, POST /v1/me/tokens), counted as well as its user's;
    // both null: none
    rateLimitMax: integer('rate_limit_max'),
    rateLimitWindowSeconds: integer('rate_limit_window_seconds'),
  },
  (t) => [
    uniqueIndex('auth_tokens_token_hash_unique').on(t.tokenHash),
    // a budget is a max per window: one without the other would have no meaning
    check('auth_tokens_rate_limit_complete', sql`(${t.rateLimitMax} is null) = (${t.rateLimitWindowSeconds} is null)`),
    // listing and counting a user's active tokens, newest first
    index('auth_tokens_user_active_idx').on(t.userId, t.createdAt.desc()).where(sql`${t.revoked} = false`),
    index('auth_tokens_expires_at_idx').on(t.expiresAt),
    index('auth_tokens_revoked_at_idx').on(t.revokedAt),
  ]
)

/** Per-user rate-limit overrides set by operators; `max` null means unlimited. */
export const rateLimitOverrides = pgTable('rate_limit_overrides', {
  userId: uuid('user_id')
    .primaryKey()
    .references(() => users.id, { onDelete: 'cascade' }),
  max: integer('max'),
  windowSeconds: integer('window_seconds').notNull(),
  updatedAt: timestamp('updated_at', { withTimezone: true }).notNull().defaultNow(),
})

/** Single-use tokens mailed for email verification, email change and password reset. */
export const oneTimeTokens = pgTable(
  'one_time_tokens',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    userId: uuid('user_id')
      .notNull()
      .references(() => users.id, { onDelete: 'cascade' }),
    purpose: text('purpose', { enum: ['email_verification', 'email_change', 'password_reset'] }).notNull(),
    tokenHash: bytea('token_hash').notNull(),
    // the address being verified (the new one, for an email change)
    email: citext('email').notNull(),
    createdAt: createdAt(),
    expiresAt: timestamp('expires_at', { withTimezone: true }).notNull(),
    usedAt: timestamp('used_at', { withTimezone: true }),
  },
  (t) => [
    uniqueIndex('one_time_tokens_token_hash_unique').on(t.tokenHash),
    index('one_time_tokens_user_purpose_idx').on(t.userId, t.purpose),
  ]
)

export const mailOutbox = pgTable(
  'mail_outbox',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    recipient: text('recipient').notNull(),
    subject: text('subject').notNull(),
    bodyText: text('body_text').notNull(),
    createdAt: createdAt(),
    sentAt: timestamp('sent_at', { withTimezone: true }),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: timestamp('next_attempt_at', { withTimezone: true }).notNull().defaultNow(),
    lastError: text('last_error'),
  },
  (t) => [
    index('mail_outbox_pending_idx').on(t.nextAttemptAt).where(sql`${t.sentAt} is null`),
    index('mail_outbox_sent_at_idx').on(t.sentAt),
    // the per-recipient cap counts one address's mails of the last hour, in any case
    index('mail_outbox_recipient_created_idx').on(sql`lower(${t.recipient})`, t.createdAt),
  ]
)

export const securityEvents = pgTable(
  'security_events',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    type: text('type').notNull(),
    userId: uuid('user_id').references(() => users.id, { onDelete: 'set null' }),
    tokenId: uuid('token_id'),
    ip: text('ip'),
    userAgent: text('user_agent'),
    createdAt: createdAt(),
    data: jsonb('data').$type<Record<string, unknown>>().notNull().default({}),
  },
  (t) => [
    index('security_events_user_idx').on(t.userId, t.createdAt.desc(), t.id.desc()),
    index('security_events_type_idx').on(t.type, t.createdAt.desc(), t.id.desc()),
    index('security_events_created_idx').on(t.createdAt.desc(), t.id.desc()),
  ]
)

export type UserRow = typeof users.$inferSelect
export type AuthTokenRow = typeof authTokens.$inferSelect
export type SecurityEventRow = typeof securityEvents.$inferSelect
export type MailRow = typeof mailOutbox.$inferSelect
export type OneTimeTokenRow = typeof oneTimeTokens.$inferSelect

/**
 * The application scopes declared (SCOPES, the plugin's `scopes`) as of the last start, and when
 * each was last left out of the declaration: tokens issued before that never hold it again.
 */
export const scopeDeclarations = pgTable('scope_declarations', {
  name: text('name').primaryKey(),
  declared: boolean('declared').notNull(),
  retiredAt: timestamp('retired_at', { withTimezone: true }),
})
