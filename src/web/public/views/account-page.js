import { api } from '../api.js'
import { confirmAction, h, showError, statusRegion } from '../dom.js'
import { adminSection } from './admin.js'
import { eventsSection } from './events.js'
import { setSessionBar, showPage } from './layout.js'
import { profileSection } from './profile.js'
import { tokensSection } from './tokens.js'

/** The signed-in page: tokens first (why most people come), then the account, history and admin. */
export async function showAccount ({ signedOut }) {
  let user
  try {
    user = (await api('GET', '/v1/me')).user
  } catch (error) {
    // a refused session has already gone back to sign-in (api.js); anything else is shown here
    if (error.status !== 401) showPage('Your account', errorLine(error))
    return
  }
  setSessionBar(sessionBar(user, signedOut))
  const sections = [
    ['tokens', 'Sessions and tokens', tokensSection({ user, signedOut })],
    ['profile', 'Your account', profileSection({ user })],
    ['events', 'Security events', eventsSection()],
    ...(user.role === 'admin' ? [['admin', 'Administration', adminSection()]] : []),
  ]
  showPage(`Signed in as ${user.username}`,
    h('nav', { 'aria-label': 'Sections' },
      h('ul', {}, sections.map(([id, title]) => h('li', {}, h('a', { href: `#${id}` }, title))))),
    ...sections.map(([id, title, content]) =>
      h('section', { id, 'aria-labelledby': `${id}-title`, class: 'section' },
        h('h2', { id: `${id}-title` }, title), content)))
}

function errorLine (error) {
  const region = statusRegion()
  showError(region, error)
  return region
}

function sessionBar (user, signedOut) {
  const region = statusRegion()
  const signOut = async () => {
    try {
      await api('POST', '/v1/auth/logout')
      signedOut('You are signed out.')
    } catch (error) {
      showError(region, error)
    }
  }
  const signOutEverywhere = async () => {
    const sure = await confirmAction({
      title: 'Sign out everywhere?',
      text: 'Every session and every personal token of yours is revoked, this browser’s included. Scripts using your tokens stop working at once.',
      confirm: 'Sign out everywhere',
    })
    if (!sure) return
    try {
      await api('POST', '/v1/auth/logout-all')
      signedOut('You are signed out everywhere: every session and token of yours is revoked.')
    } catch (error) {
      showError(region, error)
    }
  }
  return h('div', { class: 'session-bar' },
    h('span', { class: 'who' }, user.username, user.role === 'admin' ? h('span', { class: 'badge' }, 'admin') : null),
    h('button', { type: 'button', class: 'secondary', onclick: signOut }, 'Sign out'),
    h('button', { type: 'button', class: 'secondary', onclick: signOutEverywhere }, 'Sign out everywhere'),
    region)
}
