import { api } from '../api.js'
import { checkbox, confirmAction, facts, field, form, h, run, showError, showStatus, statusRegion } from '../dom.js'
import { timeElement } from '../time.js'

const SOURCES = {
  user: 'an override set for this user',
  role: 'their role’s default',
  default: 'the server’s default (RATE_LIMIT_MAX)',
}

const describeLimit = (limit) =>
  limit.max === null ? 'unlimited' : `${limit.max} requests per ${limit.windowSeconds} s`

/** For admins: find a user, then see and change their limit, disable or enable them, revoke their tokens. */
export function adminSection () {
  const results = h('ul', { class: 'users', 'aria-label': 'Users found' })
  const details = h('div', { class: 'user-details' })
  const search = form({
    title: 'Find a user',
    headingLevel: 'h3',
    fields: [field({ label: 'Email or username contains', name: 'q', type: 'search', required: true, maxlength: 254 })],
    submit: 'Search',
    onSubmit: async (data) => {
      const query = new URLSearchParams({ q: String(data.get('q')), limit: '20' })
      const { users } = await api('GET', `/v1/admin/users?${query}`)
      results.replaceChildren(...users.map((user) =>
        h('li', {}, h('button', { type: 'button', class: 'link', onclick: () => showUser(details, user.id) },
          `${user.username} · ${user.email}${user.disabled ? ' (disabled)' : ''}`))))
      details.replaceChildren()
      return users.length === 0 ? 'No user matches.' : `${users.length} user${users.length === 1 ? '' : 's'} found${users.length === 20 ? ' (the first 20)' : ''}.`
    },
  })
  return h('div', {}, search, results, details)
}

/** The user's card; `notice` is the outcome of the change that led to it, shown at its top. */
async function showUser (details, userId, notice) {
  const region = statusRegion()
  details.replaceChildren(region)
  try {
    const [{ user }, limit] = await Promise.all([
      api('GET', `/v1/admin/users/${userId}`),
      api('GET', `/v1/admin/users/${userId}/rate-limit`),
    ])
    const reload = (text) => showUser(details, userId, text)
    const heading = h('h3', { tabindex: '-1' }, user.username)
    if (notice) showStatus(region, notice)
    details.replaceChildren(h('div', { class: 'card' },
      heading,
      region,
      facts([
        ['Email', user.email],
        ['Role', user.role],
        ['Email confirmed', user.emailVerified ? 'yes' : 'no'],
        ['Account', user.disabled ? 'disabled' : 'enabled'],
        ['Created', timeElement(user.createdAt)],
        ['Rate limit', `${describeLimit(limit)}, from ${SOURCES[limit.source] ?? limit.source}`],
      ]),
      limitForm(user, limit, reload),
      accountActions(user, reload)))
    heading.focus()
  } catch (error) {
    showError(region, error)
  }
}

function limitForm (user, limit, reload) {
  const clear = h('button', {
    type: 'button',
    class: 'secondary',
    hidden: limit.source !== 'user',
    onclick: () => run(element.querySelector('.status'), clear, async () => {
      await api('DELETE', `/v1/admin/users/${user.id}/rate-limit`)
      await reload('The override is cleared.')
    }),
  }, 'Clear the override')
  const element = form({
    title: 'Set their rate limit',
    headingLevel: 'h4',
    fields: [
      field({ label: 'Requests per window', name: 'max', type: 'number', min: 0, value: limit.max ?? '', hint: '0 refuses every request; tick “unlimited” for no limit.' }),
      checkbox({ label: 'Unlimited', name: 'unlimited', value: 'yes', checked: limit.max === null }),
      field({ label: 'Window in seconds', name: 'windowSeconds', type: 'number', min: 1, max: 86_400, value: limit.windowSeconds, required: true }),
    ],
    submit: 'Set the override',
    extra: clear,
    onSubmit: async (data) => {
      const unlimited = data.get('unlimited') === 'yes'
      const max = String(data.get('max') ?? '').trim()
      if (!unlimited && max === '') throw new Error('Give a number of requests, or tick “unlimited”.')
      const set = await api('PUT', `/v1/admin/users/${user.id}/rate-limit`, {
        max: unlimited ? null : Number(max),
        windowSeconds: Number(data.get('windowSeconds')),
      })
      await reload(`Their limit is now ${describeLimit(set)}, from an override.`)
    },
  })
  return element
}

function accountActions (user, reload) {
  const region = statusRegion()
  const toggle = h('button', {
    type: 'button',
    class: user.disabled ? 'secondary' : 'danger',
    onclick: async () => {
      if (!user.disabled && !(await confirmAction({
        title: `Disable ${user.username}?`,
        text: 'They cannot sign in, and every session and token of theirs is revoked now.',
        confirm: 'Disable',
      }))) return
      await run(region, toggle, async () => {
        await api('PATCH', `/v1/admin/users/${user.id}`, { disabled: !user.disabled })
        await reload(user.disabled ? 'The account is enabled.' : 'The account is disabled, and every token of theirs is revoked.')
      })
    },
  }, user.disabled ? 'Enable the account' : 'Disable the account')
  const revokeAll = h('button', {
    type: 'button',
    class: 'danger',
    onclick: async () => {
      if (!(await confirmAction({
        title: `Revoke every token of ${user.username}?`,
        text: 'Every session and personal token of theirs stops working at once; they can sign in again.',
        confirm: 'Revoke all',
      }))) return
      await run(region, revokeAll, async () => {
        await api('DELETE', `/v1/admin/users/${user.id}/tokens`)
        return `Every token of ${user.username} is revoked.`
      })
    },
  }, 'Revoke all their tokens')
  return h('div', { class: 'card' }, h('h4', {}, 'Account'), h('div', { class: 'actions' }, toggle, revokeAll), region)
}
