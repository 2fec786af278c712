import { type Static, Type } from 'typebox'
import { PageQuery } from '../pagination.js'
import { SafeText } from '../schemas.js'
import { Role, UserSchema } from '../users/users-schemas.js'

/** API.md: admin views of a user add `disabled`. */
export const AdminUserSchema = Type.Object({ ...UserSchema.properties, disabled: Type.Boolean() })
export type AdminUser = Static<typeof AdminUserSchema>

export const AdminUserEnvelope = Type.Object({ user: AdminUserSchema })

export const ListUsersQuery = Type.Object({
  ...PageQuery,
  q: Type.Optional(SafeText(1, 254, 'a substring of the email or username (case-insensitive)')),
})

export const ListUsersResponse = Type.Object({
  users: Type.Array(AdminUserSchema),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
})

export const UpdateUserBody = Type.Object({
  role: Type.Optional(Role),
  disabled: Type.Optional(Type.Boolean()),
})
