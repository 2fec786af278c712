// The JSON API, from the page. The session token lives in sessionStorage only: no cookie is ever
// set, so no other site can make the browser send it (no CSRF), and it goes when the tab closes.

const SESSION_KEY = 'tessera.session'

/** Where Tessera's routes are: '' at the root, or the prefix a host app registered it under. */
export const ROOT = /^(.*?)\/account(?:\/|$)/.exec(window.location.pathname)?.[1] ?? ''

export const session = {
  get () {
    try {
      return JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? 'null')
    } catch {
      return null
    }
  },
  set (value) {
    sessionStorage.setItem(SESSION_KEY, JSON.stringify(value))
  },
  clear () {
    sessionStorage.removeItem(SESSION_KEY)
  },
}

export class ApiError extends Error {
  constructor (status, body) {
    super(body?.message ?? `The server answered ${status}.`)
    this.status = status
    this.code = body?.code ?? 'unknown'
    this.details = body?.details ?? []
  }
}

/** The refusals that mean the stored session is over: the person must sign in again. */
const SESSION_OVER = new Set(['token_expired', 'token_revoked', 'token_invalid'])

let sessionEnded = () => {}

/** Called with the server's message when the session is refused (it is already cleared). */
export function onSessionEnded (handler) {
  sessionEnded = handler
}

export async function api (method, path, body) {
  const headers = { accept: 'application/json' }
  const current = session.get()
  if (current) headers.authorization = `Bearer ${current.token}`
  if (body !== undefined) headers['content-type'] = 'application/json'
  let response
  try {
    response = await fetch(`${ROOT}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
    })
  } catch {
    throw new ApiError(0, { code: 'network', message: 'Tessera could not be reached. Check your connection and try again.' })
  }
  const text = await response.text()
  let data = null
  try {
    data = text === '' ? null : JSON.parse(text)
  } catch {
    data = null
  }
  if (response.ok) return data
  const error = new ApiError(response.status, data)
  // several requests may be refused at once (the page loads its sections together): the first ends
  // the session, the others find it gone and say nothing more
  if (response.status === 401 && current && SESSION_OVER.has(error.code) && session.get()?.token === current.token) {
    session.clear()
    sessionEnded(error.message)
  }
  throw error
}
