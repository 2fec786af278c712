import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from 'typebox'
import { authOf, requestInfo } from '../plugins/authenticate.js'
import { serviceDeps } from '../plugins/context.js'
import { Accepted, accepted, errorResponses } from '../schemas.js'
import { UserEnvelope } from '../users/users-schemas.js'
import { toUser } from '../users/users-service.js'
import { PasswordResetBody, PasswordResetConfirmBody, VerifyEmailBody } from './accounts-schemas.js'
import * as accounts from './accounts-service.js'

const RESET_ACCEPTED = accepted('If an account has this address, a mail with a reset token is on its way.')
const VERIFICATION_ACCEPTED = accepted(
  'If the address is not verified yet, a mail with a new verification token is on its way.'
)

export const accountsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const deps = serviceDeps(app)

  app.post(
    '/v1/auth/verify-email',
    {
      schema: {
        tags: ['auth'],
        summary: 'Confirm an email address (or an email change) with the token from the mail',
        body: VerifyEmailBody,
        response: { 200: UserEnvelope, ...errorResponses(400, 409, 413, 415, 429) },
      },
    },
    async (request) => {
      const user = await accounts.verifyEmail(deps, request.body.token, requestInfo(request))
      return { user: toUser(user) }
    }
  )

  app.post(
    '/v1/me/verify-email',
    {
      config: { auth: 'profile:write' },
      schema: {
        tags: ['me'],
        summary: 'Send a new verification mail',
        security: [{ bearer: [] }],
        response: { 202: Accepted, ...errorResponses(401, 403, 429) },
      },
    },
    async (request, reply) => {
      await accounts.resendVerification(deps, authOf(request).userId)
      return reply.code(202).send(VERIFICATION_ACCEPTED)
    }
  )

  app.post(
    '/v1/auth/password-reset',
    {
      schema: {
        tags: ['auth'],
        summary: 'Mail a password reset token; the same answer whether or not the account exists',
        body: PasswordResetBody,
        response: { 202: Accepted, ...errorResponses(400, 413, 415, 429) },
      },
    },
    async (request, reply) => {
      await accounts.requestPasswordReset(deps, request.body.email)
      return reply.code(202).send(RESET_ACCEPTED)
    }
  )

  app.post(
    '/v1/auth/password-reset/confirm',
    {
      schema: {
        tags: ['auth'],
        summary: 'Set a new password with the token from the reset mail; revokes every token',
        body: PasswordResetConfirmBody,
        response: { 204: Type.Null(), ...errorResponses(400, 413, 415, 429) },
      },
    },
    async (request, reply) => {
      await accounts.confirmPasswordReset(deps, request.body, requestInfo(request))
      return reply.code(204).send(null)
    }
  )
}
