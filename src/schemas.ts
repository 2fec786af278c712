import { Type } from 'typebox'
import { ERRORS, type ErrorCode } from './errors.js'

/** Text stored in PostgreSQL: no control characters (a NUL byte would be a database error). */
export const SafeText = (minLength: number, maxLength: number, description?: string) =>
  Type.String({ minLength, maxLength, pattern: '^[^\\u0000-\\u001f\\u007f]*$', description })

export const Uuid = Type.String({ format: 'uuid' })
export const Timestamp = Type.String({ format: 'date-time' })
export const IdParams = Type.Object({ id: Uuid })

/**
 * Every 202: the work is queued or done, and the answer says nothing more (no enumeration).
 * `status` is what a client tests; `message` is for people.
 */
export const Accepted = Type.Object({ status: Type.Literal('accepted'), message: Type.String() })

export const accepted = (message: string) => ({ status: 'accepted' as const, message })

export const ErrorSchema = Type.Object(
  {
    statusCode: Type.Integer(),
    error: Type.String(),
    code: Type.Union(Object.keys(ERRORS).map((code) => Type.Literal(code as ErrorCode))),
    message: Type.String(),
    details: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
  },
  { $id: 'Error', description: 'Every error, from every route and layer' }
)

/** Response schemas for a route's error statuses, so /docs lists them. */
export function errorResponses (...statuses: number[]) {
  return Object.fromEntries(statuses.map((status) => [status, Type.Ref('Error')]))
}
