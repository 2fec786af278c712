import { type Static, Type } from 'typebox'
import { PageQuery } from '../pagination.js'
import { Timestamp, Uuid } from '../schemas.js'
import { EVENT_TYPES } from './events-repository.js'

export const SecurityEventSchema = Type.Object({
  id: Uuid,
  type: Type.String(),
  userId: Type.Union([Uuid, Type.Null()]),
  tokenId: Type.Union([Uuid, Type.Null()]),
  ip: Type.Union([Type.String(), Type.Null()]),
  userAgent: Type.Union([Type.String(), Type.Null()]),
  createdAt: Timestamp,
  data: Type.Object({}, { additionalProperties: true, description: 'Small, type-specific details' }),
})
export type SecurityEvent = Static<typeof SecurityEventSchema>

export const EventPage = Type.Object({
  events: Type.Array(SecurityEventSchema),
  nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'Pass as ?cursor for the next page' }),
})
export type EventPage = Static<typeof EventPage>

export const MyEventsQuery = Type.Object(PageQuery)
export type MyEventsQuery = Static<typeof MyEventsQuery>

export const AdminEventsQuery = Type.Object({
  ...PageQuery,
  userId: Type.Optional(Uuid),
  type: Type.Optional(Type.Union(EVENT_TYPES.map((type) => Type.Literal(type)))),
})
export type AdminEventsQuery = Static<typeof AdminEventsQuery>
