import { type Static, Type } from 'typebox'
import { Email, Password } from '../users/users-schemas.js'

/** A mailed token; its format and checksum are checked by the service, which gives one answer for all faults. */
const MailToken = Type.String({ minLength: 1, maxLength: 200, description: 'The `token:` line of the mail' })

export const VerifyEmailBody = Type.Object({ token: MailToken })
export type VerifyEmailBody = Static<typeof VerifyEmailBody>

export const PasswordResetBody = Type.Object({ email: Email })
export type PasswordResetBody = Static<typeof PasswordResetBody>

export const PasswordResetConfirmBody = Type.Object({ token: MailToken, password: Password })
export type PasswordResetConfirmBody = Static<typeof PasswordResetConfirmBody>
