import { api } from '../api.js'
import { facts, field, form, h, run, statusRegion } from '../dom.js'
import { timeElement } from '../time.js'

/** The account itself: its address and whether it is confirmed, and changing password or email. */
export function profileSection ({ user }) {
  return h('div', {},
    facts([
      ['Username', user.username],
      ['Email', user.email],
      ['Email confirmed', user.emailVerified ? 'yes' : 'not yet'],
      ['Role', user.role],
      ['Member since', timeElement(user.createdAt)],
    ]),
    user.emailVerified ? null : resendVerification(),
    passwordForm(),
    emailForm())
}

function resendVerification () {
  const region = statusRegion()
  const button = h('button', {
    type: 'button',
    class: 'secondary',
    onclick: () => run(region, button, async () => {
      const answer = await api('POST', '/v1/me/verify-email')
      return answer?.message ?? 'A new verification mail is on its way.'
    }),
  }, 'Send the verification mail again')
  return h('div', { class: 'card' },
    h('h3', {}, 'Confirm your email address'),
    h('p', {}, 'Open the link in the mail we sent you. Lost it? Ask for another: the older ones stop working.'),
    h('div', { class: 'actions' }, button),
    region)
}

function passwordForm () {
  return form({
    title: 'Change your password',
    headingLevel: 'h3',
    fields: [
      field({ label: 'Current password', name: 'currentPassword', type: 'password', autocomplete: 'current-password', required: true }),
      field({ label: 'New password', name: 'newPassword', type: 'password', autocomplete: 'new-password', required: true, minlength: 8, hint: 'Every other session and token of yours is revoked; this browser stays signed in.' }),
    ],
    submit: 'Change password',
    onSubmit: async (data, element) => {
      await api('PUT', '/v1/me/password', {
        currentPassword: String(data.get('currentPassword')),
        newPassword: String(data.get('newPassword')),
      })
      element.reset()
      return 'Your password is changed; every other session and token of yours is revoked.'
    },
  })
}

function emailForm () {
  return form({
    title: 'Change your email address',
    headingLevel: 'h3',
    fields: [
      field({ label: 'New email address', name: 'email', type: 'email', autocomplete: 'email', required: true, maxlength: 254, hint: 'The change takes effect when you open the link in the mail sent to the new address.' }),
      field({ label: 'Current password', name: 'currentPassword', type: 'password', autocomplete: 'current-password', required: true }),
    ],
    submit: 'Change email',
    onSubmit: async (data, element) => {
      const email = String(data.get('email'))
      await api('PATCH', '/v1/me', { email, currentPassword: String(data.get('currentPassword')) })
      element.reset()
      return `A mail to ${email} is on its way: the change takes effect when you confirm it.`
    },
  })
}
