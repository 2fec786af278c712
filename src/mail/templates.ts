import type { OutgoingMail } from './outbox-repository.js'

/**
 * The text of every mail Tessera sends: plain, short, naming the product. A token travels on a
 * line of its own as `token: <value>` (API.md, Mail), so a person can copy it and a client or a
 * test can find it with /^token: (\S+)$/m. Pure: no I/O.
 */

const SIGNATURE = '-- \nTessera'

/** "48 hours", "30 minutes", "1 hour": how long a token lives, for people. */
export function describeDuration (seconds: number): string {
  const [value, unit] =
    seconds % 86_400 === 0 && seconds >= 172_800
      ? [seconds / 86_400, 'day']
      : seconds % 3600 === 0
        ? [seconds / 3600, 'hour']
        : [Math.max(1, Math.round(seconds / 60)), 'minute']
  return `${value} ${unit}${value === 1 ? '' : 's'}`
}

/** `userId`: the account the mail is for, whatever address it goes to (null: none is known). */
function mail (recipient: string, userId: string | null, subject: string, paragraphs: string[]): OutgoingMail {
  return { recipient, userId, subject, bodyText: [...paragraphs, SIGNATURE].join('\n\n') }
}

const tokenLine = (token: string) => `token: ${token}`

/** The web page's landing pages for mailed tokens (src/web). */
export type LandingPage = 'verify-email' | 'reset-password'

/**
 * API.md, Mail: the link carries the token in the fragment, which a browser never sends, so the
 * token reaches no server log and no Referer. The token alphabet (base64url) needs no escaping.
 */
export function pageLinkUrl (publicUrl: string, page: LandingPage, token: string): string {
  return `${publicUrl.replace(/\/+$/, '')}/account/${page}#token=${token}`
}

/** The token line, and where PUBLIC_URL is set (else undefined) the link to the page that takes it. */
function tokenLines (token: string, publicUrl: string | undefined, page: LandingPage, action: string): string[] {
  if (publicUrl === undefined) return [tokenLine(token)]
  return [tokenLine(token), `Or open this link in your browser to ${action}:\n${pageLinkUrl(publicUrl, page, token)}`]
}

interface Recipient {
  id: string
  email: string
  username: string
}

export function verificationMail (user: Recipient, token: string, ttlSeconds: number, publicUrl?: string): OutgoingMail {
  return mail(user.email, user.id, 'Confirm your email address for Tessera', [
    `Hello ${user.username},`,
    `Please confirm that ${user.email} is the address of your Tessera account. Send this token to POST /v1/auth/verify-email within ${describeDuration(ttlSeconds)}:`,
    ...tokenLines(token, publicUrl, 'verify-email', 'confirm it'),
    'If you did not create a Tessera account, you can ignore this mail.',
  ])
}

export function emailChangeMail (
  user: Recipient,
  newEmail: string,
  token: string,
  ttlSeconds: number,
  publicUrl?: string
): OutgoingMail {
  return mail(newEmail, user.id, 'Confirm your new email address for Tessera', [
    `Hello ${user.username},`,
    `You asked to use ${newEmail} for your Tessera account instead of ${user.email}. The change takes effect when you send this token to POST /v1/auth/verify-email within ${describeDuration(ttlSeconds)}:`,
    ...tokenLines(token, publicUrl, 'verify-email', 'confirm it'),
    'If you did not ask for this, ignore this mail: nothing changes.',
  ])
}

/** To the old address when a change is asked for: its owner can still stop it. */
export function emailChangeRequestedNotice (user: Recipient, newEmail: string): OutgoingMail {
  return mail(user.email, user.id, 'A change of your Tessera email address was requested', [
    `Hello ${user.username},`,
    `Someone signed in to your Tessera account asked to change its email address from ${user.email} to ${newEmail}. The change takes effect only when the mail sent to ${newEmail} is confirmed.`,
    'If you did not ask for this, reset your password at once (POST /v1/auth/password-reset): that cancels the change and signs everyone out of the account.',
  ])
}

export function emailChangedNotice (user: Recipient, previousEmail: string): OutgoingMail {
  return mail(previousEmail, user.id, 'Your Tessera email address was changed', [
    `Hello ${user.username},`,
    `The email address of your Tessera account was changed from ${previousEmail} to ${user.email}. Mail about the account now goes to the new address.`,
    'If you did not do this, contact your Tessera operator at once: someone else may control your account.',
  ])
}

/** Addressed by email alone: a reset can be asked for by someone who is not logged in. */
export function passwordResetMail (email: string, token: string, ttlSeconds: number, publicUrl?: string): OutgoingMail {
  return mail(email, null, 'Reset your Tessera password', [
    'Hello,',
    `Someone asked to reset the password of the Tessera account for ${email}. To choose a new password, send this token with it to POST /v1/auth/password-reset/confirm within ${describeDuration(ttlSeconds)}:`,
    ...tokenLines(token, publicUrl, 'reset-password', 'choose a new password'),
    'If you did not ask for this, ignore this mail: your password stays as it is.',
  ])
}

export function passwordResetNotice (user: Recipient): OutgoingMail {
  return mail(user.email, user.id, 'Your Tessera password was reset', [
    `Hello ${user.username},`,
    'The password of your Tessera account was just reset, and every session and personal token of the account was revoked: log in again with the new password.',
    'If you did not do this, reset your password again at once and contact your Tessera operator.',
  ])
}

export function passwordChangedNotice (user: Recipient): OutgoingMail {
  return mail(user.email, user.id, 'Your Tessera password was changed', [
    `Hello ${user.username},`,
    'The password of your Tessera account was just changed.',
    'If you did not do this, reset your password at once and contact your Tessera operator.',
  ])
}

export interface TokenNoticeDetails {
  name: string
  scopes: readonly string[]
  expiresAt: Date | null
}

/** Names the token, never its secret. */
export function personalTokenCreatedNotice (user: Recipient, token: TokenNoticeDetails): OutgoingMail {
  return mail(user.email, user.id, 'A personal token was created for your Tessera account', [
    `Hello ${user.username},`,
    [
      'A personal access token was created for your Tessera account:',
      `  name: ${token.name}`,
      `  scopes: ${token.scopes.join(', ') || '(none)'}`,
      `  expires: ${token.expiresAt ? token.expiresAt.toISOString() : 'never'}`,
    ].join('\n'),
    'If you did not do this, revoke it (DELETE /v1/me/tokens/:id) and change your password.',
  ])
}
