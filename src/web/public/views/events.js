import { api } from '../api.js'
import { h, run, statusRegion } from '../dom.js'
import { timeElement } from '../time.js'

const EVENT_NAMES = {
  'user.registered': 'Account created',
  'login.succeeded': 'Signed in',
  'login.failed': 'Failed sign-in',
  logout: 'Signed out',
  'token.created': 'Token created',
  'token.revoked': 'Token revoked',
  'password.changed': 'Password changed',
  'password.reset': 'Password reset',
  'email.verified': 'Email address confirmed',
  'user.updated': 'Account changed',
  'rate_limit.changed': 'Rate limit changed',
  'mail.suppressed': 'Mail held back (too many to one address)',
}

/** The person's own security history, newest first, a page at a time. */
export function eventsSection () {
  const region = statusRegion()
  const list = h('ol', { class: 'events' })
  let cursor = null
  const more = h('button', { type: 'button', class: 'secondary', hidden: true, onclick: () => run(region, more, load) }, 'Show older events')
  const load = async () => {
    const query = new URLSearchParams({ limit: '20', ...(cursor ? { cursor } : {}) })
    const page = await api('GET', `/v1/me/events?${query}`)
    list.append(...page.events.map(eventItem))
    cursor = page.nextCursor
    more.hidden = cursor === null
  }
  run(region, more, load)
  return h('div', {}, list, region, h('div', { class: 'actions' }, more))
}

function eventItem (event) {
  const details = Object.entries(event.data ?? {})
    .filter(([, value]) => value !== null && typeof value !== 'object')
    .map(([key, value]) => `${key}: ${value}`)
  return h('li', { class: 'event' },
    h('p', { class: 'event-head' }, h('strong', {}, EVENT_NAMES[event.type] ?? event.type), ' ', timeElement(event.createdAt)),
    h('p', { class: 'event-meta' },
      [event.ip ? `from ${event.ip}` : null, event.userAgent, ...details].filter(Boolean).join(' · ')))
}
