import { api, session } from '../api.js'
import { field, form, h, showStatus } from '../dom.js'
import { setSessionBar, showPage } from './layout.js'

/** What the session is called in the token list. */
const SESSION_NAME = 'Web page'

/** Usernames have no "@" (API.md: [A-Za-z0-9_.-]), so one box takes either. */
export async function signIn (login, password) {
  const name = login.trim()
  const body = { password, tokenName: SESSION_NAME, ...(name.includes('@') ? { email: name } : { username: name }) }
  const answer = await api('POST', '/v1/auth/login', body)
  session.set({ token: answer.token, tokenId: answer.tokenId, expiresAt: answer.expiresAt })
  return answer
}

/** `notice`: why the person is here again ({ message, kind }), shown by the sign-in form. */
export function showSignIn ({ notice, onSignedIn }) {
  setSessionBar()
  const signInForm = form({
    title: 'Sign in',
    fields: [
      field({ label: 'Username or email', name: 'login', autocomplete: 'username', required: true }),
      field({ label: 'Password', name: 'password', type: 'password', autocomplete: 'current-password', required: true }),
    ],
    submit: 'Sign in',
    onSubmit: async (data) => {
      await signIn(String(data.get('login')), String(data.get('password')))
      onSignedIn()
    },
  })
  if (notice) showStatus(signInForm.querySelector('.status'), notice.message, notice.kind)

  const registerForm = form({
    title: 'Create an account',
    fields: [
      field({ label: 'Email', name: 'email', type: 'email', autocomplete: 'email', required: true, maxlength: 254 }),
      field({
        label: 'Username',
        name: 'username',
        autocomplete: 'username',
        required: true,
        minlength: 3,
        maxlength: 32,
        hint: '3 to 32 letters, digits, “_”, “.” or “-”.',
      }),
      field({
        label: 'Password',
        name: 'password',
        type: 'password',
        autocomplete: 'new-password',
        required: true,
        minlength: 8,
        hint: 'At least 8 characters; not a common password, nor your username or email.',
      }),
    ],
    submit: 'Create account',
    onSubmit: async (data) => {
      const password = String(data.get('password'))
      await api('POST', '/v1/auth/register', {
        email: String(data.get('email')),
        username: String(data.get('username')),
        password,
      })
      try {
        await signIn(String(data.get('username')), password)
      } catch (error) {
        // with REQUIRE_EMAIL_VERIFICATION the account exists but may not sign in yet
        return `Your account is created. ${error.message}`
      }
      onSignedIn()
    },
  })

  const resetForm = form({
    title: 'Forgot your password?',
    fields: [field({ label: 'Email of your account', name: 'email', type: 'email', autocomplete: 'email', required: true })],
    submit: 'Send a reset mail',
    onSubmit: async (data) => {
      const answer = await api('POST', '/v1/auth/password-reset', { email: String(data.get('email')) })
      return answer?.message ?? 'If an account has this address, a reset mail is on its way.'
    },
  })

  showPage('Your Tessera account',
    h('p', { class: 'lead' }, 'Sign in to see every session and token that can act as you, and revoke any of them.'),
    h('div', { class: 'columns' }, signInForm, registerForm),
    resetForm)
}
