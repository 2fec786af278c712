import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from 'typebox'
import { ApiError } from '../errors.js'
import { authOf } from '../plugins/authenticate.js'
import { errorResponses } from '../schemas.js'
import { isScopeName, type Scope } from '../tokens/scopes.js'

/** The methods a gateway may forward: every one fastify routes. */
const ANY_METHOD = ['DELETE', 'GET', 'HEAD', 'PATCH', 'POST', 'PUT', 'OPTIONS']

/**
 * The scope the upstream route needs: the proxy's `x-tessera-scope` header (set per location),
 * else `?scope=`; none means any valid token. A value that is not a scope name is the proxy's
 * misconfiguration, refused as such rather than echoed into WWW-Authenticate.
 */
function requestedScope (request: FastifyRequest): 'any' | Scope {
  const header = request.headers['x-tessera-scope']
  const query = (request.query as { scope?: unknown } | undefined)?.scope
  const value = (Array.isArray(header) ? header[0] : header) ?? (typeof query === 'string' ? query : undefined)
  if (value === undefined || value === '') return 'any'
  if (!isScopeName(value)) {
    throw new ApiError('validation_failed', {
      message: 'x-tessera-scope (or ?scope=) is not a scope name.',
      details: [{ path: '/scope', message: 'must be a scope name' }],
    })
  }
  return value as Scope
}

/**
 * nginx's auth_request passes only the status and headers of Tessera's answer, never its body:
 * a refusal also carries its body in `x-tessera-error`, from which the proxy can answer the
 * client in API.md's error shape (see the README's nginx configuration). ASCII-escaped, as a
 * header value must be.
 */
function errorBodyHeader (_request: FastifyRequest, reply: FastifyReply, payload: unknown) {
  if (reply.statusCode >= 400 && typeof payload === 'string') {
    reply.header('x-tessera-error', payload.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`))
  }
  return Promise.resolve(payload)
}

/**
 * Forward authentication (API.md, Protecting your own API, 3) for nginx auth_request, Traefik
 * ForwardAuth, Caddy forward_auth and Envoy ext_authz: the client's request, as the proxy
 * forwards it, is guarded like a protected route; allowed, it answers 200 with the caller's
 * identity in `x-tessera-*` headers, which the proxy hands to the upstream.
 */
export const forwardAuthRoutes: FastifyPluginAsyncTypebox = async (app) => {
  // the proxy's request may carry the client's body, of any type: it is not read
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', (_request, payload, done) => {
    payload.resume()
    done(null)
  })
  app.addHook('onSend', errorBodyHeader)

  for (const url of ['/v1/auth/check', '/v1/auth/check/*']) {
    app.route({
      method: ANY_METHOD,
      url,
      config: { auth: requestedScope },
      schema: {
        tags: ['protect'],
        summary: 'Forward authentication for a reverse proxy or gateway',
        security: [{ bearer: [] }],
        hide: url.endsWith('*'),
        response: {
          200: Type.String({ maxLength: 0, description: 'Allowed: an empty body, the caller in the x-tessera-* headers' }),
          ...errorResponses(400, 401, 403, 429, 503),
        },
      },
      handler: async (request, reply) => {
        const auth = authOf(request)
        return reply
          .code(200)
          .headers({
            'x-tessera-user-id': auth.userId,
            'x-tessera-token-id': auth.tokenId,
            'x-tessera-username': auth.username,
            'x-tessera-role': auth.role,
            'x-tessera-scopes': [...auth.scopes].join(' '),
          })
          .send('')
      },
    })
  }
}
