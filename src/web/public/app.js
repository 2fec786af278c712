// The page's entry: one page for every /account path. The mail links' landing pages are chosen by
// path; everything else is the sign-in page or, with a session, the account page.
import { onSessionEnded, ROOT, session } from './api.js'
import { showAccount } from './views/account-page.js'
import { showPasswordReset, showVerifyEmail } from './views/landing.js'
import { showSignIn } from './views/sign-in.js'

const LANDING_PAGES = {
  '/account/verify-email': showVerifyEmail,
  '/account/reset-password': showPasswordReset,
}

/**
 * The session is over: back to sign-in, saying why. `kind` 'ok' for the person's own sign-out,
 * 'error' for a session the server refused (expired, or revoked elsewhere).
 */
function signedOut (message, kind = 'ok') {
  session.clear()
  showSignIn({ notice: { message, kind }, onSignedIn: () => showAccount({ signedOut }) })
}

onSessionEnded((message) => signedOut(message, 'error'))

// a mail link pasted into a tab already on its landing page changes only the fragment: start again
window.addEventListener('hashchange', () => {
  if (new URLSearchParams(window.location.hash.slice(1)).has('token')) window.location.reload()
})

const path = window.location.pathname.slice(ROOT.length).replace(/\/+$/, '')
const landing = LANDING_PAGES[path]
if (landing) landing()
else if (session.get()) showAccount({ signedOut })
else showSignIn({ onSignedIn: () => showAccount({ signedOut }) })
