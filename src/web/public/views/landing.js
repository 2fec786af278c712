import { api, ROOT, session } from '../api.js'
import { field, form, h, showError, showStatus, statusRegion } from '../dom.js'
import { setSessionBar, showPage } from './layout.js'

/**
 * The token of a mail link. It travels in the fragment (never sent to a server), and is taken
 * out of the address bar and the history at once, so it is not left behind for the next person.
 */
function takeLinkToken () {
  const token = new URLSearchParams(window.location.hash.slice(1)).get('token')
  if (window.location.hash) window.history.replaceState(null, '', window.location.pathname)
  return token
}

const backLink = () => h('p', {}, h('a', { href: `${ROOT}/account` }, 'Go to your account'))

function missingToken (region) {
  showStatus(region, 'This link has no token. Open the link from the mail again, or copy it whole into the address bar.', 'error')
}

export async function showVerifyEmail () {
  setSessionBar()
  const token = takeLinkToken()
  const region = statusRegion()
  showPage('Confirm your email address', region, backLink())
  if (!token) return missingToken(region)
  showStatus(region, 'Confirming…')
  try {
    const { user } = await api('POST', '/v1/auth/verify-email', { token })
    showStatus(region, `Your address ${user.email} is confirmed.`)
  } catch (error) {
    showError(region, error)
  }
}

export function showPasswordReset () {
  setSessionBar()
  const token = takeLinkToken()
  if (!token) {
    const region = statusRegion()
    showPage('Choose a new password', region, backLink())
    return missingToken(region)
  }
  const resetForm = form({
    fields: [
      field({ label: 'New password', name: 'password', type: 'password', autocomplete: 'new-password', required: true, minlength: 8, hint: 'At least 8 characters; not a common password, nor your username or email.' }),
      field({ label: 'New password again', name: 'repeat', type: 'password', autocomplete: 'new-password', required: true }),
    ],
    submit: 'Set the new password',
    onSubmit: async (data, element) => {
      if (data.get('password') !== data.get('repeat')) throw new Error('The two passwords differ.')
      await api('POST', '/v1/auth/password-reset/confirm', { token, password: String(data.get('password')) })
      // the reset revoked every token of the account, this tab's too
      session.clear()
      element.reset()
      return 'Your password is changed, and every session of the account is signed out. Sign in with the new password.'
    },
  })
  showPage('Choose a new password', resetForm, backLink())
}
