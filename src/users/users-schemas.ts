import { type Static, Type } from 'typebox'
import { SafeText, Timestamp, Uuid } from '../schemas.js'
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from './passwords.js'

export const Email = Type.String({ format: 'email', maxLength: 254 })
export const Username = Type.String({ minLength: 3, maxLength: 32, pattern: '^[A-Za-z0-9_.-]+$' })
export const Password = Type.String({ minLength: PASSWORD_MIN_LENGTH, maxLength: PASSWORD_MAX_LENGTH })
export const Role = Type.Union([Type.Literal('user'), Type.Literal('admin')])

/** The allowlist of user fields that ever leave the server: never a password or hash. */
export const UserSchema = Type.Object(
  {
    id: Uuid,
    email: Type.String(),
    username: Type.String(),
    role: Role,
    emailVerified: Type.Boolean(),
    createdAt: Timestamp,
  },
  { $id: 'User' }
)
export type User = Static<typeof UserSchema>

export const UserEnvelope = Type.Object({ user: Type.Ref('User') })

export const RegisterBody = Type.Object({ email: Email, username: Username, password: Password })
export type RegisterBody = Static<typeof RegisterBody>

export const LoginBody = Type.Object({
  // SafeText: a NUL byte in a lookup value is a PostgreSQL error (500), not a wrong login
  username: Type.Optional(SafeText(1, 254)),
  email: Type.Optional(SafeText(1, 254)),
  password: Type.String({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH }),
  tokenName: Type.Optional(SafeText(1, 100)),
})
export type LoginBody = Static<typeof LoginBody>

export const LoginResponse = Type.Object({
  token: Type.String({ description: 'The bearer token: shown once, never again' }),
  tokenType: Type.Literal('Bearer'),
  tokenId: Uuid,
  expiresAt: Timestamp,
  user: Type.Ref('User'),
})

export const UpdateMeBody = Type.Object({
  username: Type.Optional(Username),
  email: Type.Optional(Email),
  currentPassword: Type.Optional(Type.String({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH })),
})
export type UpdateMeBody = Static<typeof UpdateMeBody>

export const ChangePasswordBody = Type.Object({
  currentPassword: Type.String({ minLength: 1, maxLength: PASSWORD_MAX_LENGTH }),
  newPassword: Password,
})
export type ChangePasswordBody = Static<typeof ChangePasswordBody>
