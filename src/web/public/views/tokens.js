import { api } from '../api.js'
import { checkbox, confirmAction, facts, field, form, h, openDialog, run, statusRegion } from '../dom.js'
import { timeElement } from '../time.js'

const KIND_NAMES = { session: 'Session', personal: 'Personal token' }

/** Every token that can act as the person, "this browser" marked, each revocable. */
export function tokensSection ({ user, signedOut }) {
  const region = statusRegion()
  const list = h('ul', { class: 'tokens', 'aria-label': 'Your sessions and tokens' })
  const refresh = async () => {
    const { tokens } = await api('GET', '/v1/me/tokens')
    list.replaceChildren(...tokens.map((token) => tokenItem(token, { region, refresh, signedOut })))
    if (tokens.length === 0) list.append(h('li', { class: 'empty' }, 'No active tokens.'))
  }
  // the list, reloaded after a token is created: a failure shows by the list, not in the dialog
  const onCreated = () => run(region, refreshButton, refresh)
  const newButton = h('button', {
    type: 'button',
    onclick: () => run(region, newButton, () => newTokenDialog({ user, onCreated })),
  }, 'New personal token')
  const refreshButton = h('button', {
    type: 'button',
    class: 'secondary',
    onclick: () => run(region, refreshButton, async () => {
      await refresh()
      return 'The list is up to date.'
    }),
  }, 'Refresh')
  run(region, refreshButton, refresh)
  return h('div', {},
    h('p', {}, 'Every session (a signed-in browser or app) and every personal token that can act as you. Revoke any you do not recognise.'),
    h('div', { class: 'actions' }, newButton, refreshButton),
    region,
    list)
}

function tokenItem (token, { region, refresh, signedOut }) {
  const titleId = `token-${token.id}-name`
  const revoke = async () => {
    const sure = await confirmAction({
      title: `Revoke “${token.name}”?`,
      text: token.current
        ? 'This is the session of this browser: you will be signed out.'
        : 'Anything using it stops working at once. This cannot be undone.',
      confirm: 'Revoke',
    })
    if (!sure) return
    await run(region, button, async () => {
      await api('DELETE', `/v1/me/tokens/${token.id}`)
      if (token.current) return signedOut('You revoked this browser’s session.')
      await refresh()
      // the focused button is gone with its token: keyboard focus goes on from the outcome
      region.setAttribute('tabindex', '-1')
      region.focus()
      return `“${token.name}” is revoked.`
    })
  }
  const button = h('button', { type: 'button', class: 'danger', 'aria-describedby': titleId, onclick: revoke }, 'Revoke')
  return h('li', { class: token.current ? 'token current' : 'token', 'data-token-id': token.id },
    h('div', { class: 'token-head' },
      h('h3', { id: titleId }, token.name),
      h('span', { class: 'badge' }, KIND_NAMES[token.kind] ?? token.kind),
      token.current ? h('span', { class: 'badge this-browser' }, 'This browser') : null),
    facts([
      ['Scopes', token.scopes.length ? token.scopes.join(', ') : 'none'],
      ['Created', timeElement(token.createdAt)],
      ['Expires', token.expiresAt ? timeElement(token.expiresAt) : 'never'],
      ['Last used', token.lastUsedAt ? timeElement(token.lastUsedAt) : 'not yet'],
      ['From IP', token.lastUsedIp],
      ['Browser or client', token.userAgent],
      ['Own budget', token.rateLimit ? `${token.rateLimit.max} requests per ${token.rateLimit.windowSeconds} s` : null],
    ]),
    h('div', { class: 'actions' }, button))
}

/** Scopes the person may give a token: an admin-only scope only for an admin (API.md, Tokens). */
async function grantableScopes (user) {
  const { scopes } = await api('GET', '/v1/scopes')
  return scopes.filter((scope) => !scope.adminOnly || user.role === 'admin')
}

async function ownLimitHint () {
  try {
    const limit = await api('GET', '/v1/me/rate-limit')
    return limit.max === null ? 'Your own limit: unlimited.' : `Your own limit: ${limit.max} requests per ${limit.windowSeconds} s; a token’s budget cannot exceed it.`
  } catch {
    return ''
  }
}

async function newTokenDialog ({ user, onCreated }) {
  const [scopes, limitHint] = await Promise.all([grantableScopes(user), ownLimitHint()])
  const scopeBoxes = h('fieldset', {},
    h('legend', {}, 'Scopes (what it may do)'),
    scopes.map((scope) => checkbox({ label: scope.name, name: 'scopes', value: scope.name, hint: scope.description === scope.name ? undefined : scope.description })))
  const create = form({
    fields: [
      field({ label: 'Name', name: 'name', required: true, maxlength: 100, hint: 'What it is for, e.g. “backup script”.', autocomplete: 'off' }),
      scopeBoxes,
      field({ label: 'Lifetime in days', name: 'expiresInDays', type: 'number', min: 1, max: 365, value: 90, required: true, hint: '1 to 365 days.' }),
      h('fieldset', {},
        h('legend', {}, 'A budget of its own (optional)'),
        h('p', { class: 'hint' }, `Leave it empty and the token spends your budget alone. ${limitHint}`),
        h('div', { class: 'inline-fields' },
          field({ label: 'Requests', name: 'budgetMax', type: 'number', min: 1 }),
          field({ label: 'per seconds', name: 'budgetWindowSeconds', type: 'number', min: 1, max: 86_400, value: 60 }))),
    ],
    submit: 'Create token',
    extra: h('button', { type: 'button', class: 'secondary', onclick: () => dialog.close() }, 'Cancel'),
    onSubmit: async (data) => {
      const chosen = data.getAll('scopes').map(String)
      if (chosen.length === 0) throw new Error('Choose at least one scope.')
      const budgetMax = String(data.get('budgetMax') ?? '').trim()
      const created = await api('POST', '/v1/me/tokens', {
        name: String(data.get('name')),
        scopes: chosen,
        expiresInDays: Number(data.get('expiresInDays')),
        ...(budgetMax === '' ? {} : { rateLimit: { max: Number(budgetMax), windowSeconds: Number(data.get('budgetWindowSeconds')) } }),
      })
      showSecret(dialog, created)
      onCreated()
    },
  })
  const dialog = openDialog({ title: 'New personal token', content: [create] })
  dialog.classList.add('new-token')
}

/** The secret, once: Tessera keeps only its digest, so it is never shown again. */
function showSecret (dialog, created) {
  const region = statusRegion()
  const secretId = 'new-token-secret'
  const secret = h('input', { id: secretId, class: 'secret', readonly: true, value: created.token, spellcheck: 'false', autocomplete: 'off' })
  secret.addEventListener('focus', () => secret.select())
  const copy = h('button', {
    type: 'button',
    onclick: () => run(region, copy, async () => {
      await copyText(secret)
      return 'Copied to the clipboard.'
    }),
  }, 'Copy')
  const content = h('div', { class: 'created' },
    h('p', { class: 'warning' }, h('strong', {}, 'Copy it now: it will not be shown again. '), 'Tessera keeps only a digest of it; if you lose it, revoke it and create another.'),
    h('div', { class: 'field' }, h('label', { for: secretId }, `Token “${created.tokenInfo.name}”`), h('div', { class: 'secret-row' }, secret, copy)),
    facts([
      ['Scopes', created.tokenInfo.scopes.join(', ')],
      ['Expires', created.tokenInfo.expiresAt ? timeElement(created.tokenInfo.expiresAt) : 'never'],
      ['Own budget', created.tokenInfo.rateLimit ? `${created.tokenInfo.rateLimit.max} requests per ${created.tokenInfo.rateLimit.windowSeconds} s` : null],
    ]),
    region,
    h('div', { class: 'actions' }, h('button', { type: 'button', class: 'secondary', onclick: () => dialog.close() }, 'Done')))
  dialog.querySelector('form').replaceWith(content)
  secret.focus()
}

async function copyText (input) {
  try {
    await navigator.clipboard.writeText(input.value)
  } catch {
    // no clipboard permission (an insecure origin, a browser setting): the older way
    input.select()
    if (!document.execCommand('copy')) throw new Error('The browser refused to copy: select the token and copy it yourself.')
  }
}
