import { describe, expect, it } from 'vitest'
import { useTestApp } from '../helpers/app.js'
import { createLoggedInUser, createUser } from '../helpers/factories.js'
import { CHANGE_SUBJECT, mailsTo, RESET_SUBJECT, tokenIn, VERIFY_SUBJECT } from '../helpers/mail.js'

const PUBLIC_URL = 'https://auth.example.com/'

async function latestMail (app: Parameters<typeof mailsTo>[0], recipient: string, subject: RegExp) {
  const mail = (await mailsTo(app, recipient)).filter((each) => subject.test(each.subject)).at(-1)
  expect(mail, `no mail to ${recipient} matching ${subject}`).toBeDefined()
  return mail?.bodyText ?? ''
}

describe('with PUBLIC_URL set', () => {
  const { context } = useTestApp({ env: { PUBLIC_URL } })

  it('the verification mail links to /account/verify-email with its token in the fragment', async () => {
    const user = await createUser(context.app)
    const body = await latestMail(context.app, user.email, VERIFY_SUBJECT)
    expect(body).toContain(`\nhttps://auth.example.com/account/verify-email#token=${tokenIn(body)}\n`)
  })

  it('the email change mail links to /account/verify-email', async () => {
    const { user, token } = await createLoggedInUser(context.app)
    const response = await context.app.inject({
      method: 'PATCH',
      url: '/v1/me',
      headers: { authorization: `Bearer ${token}` },
      payload: { email: 'moved@example.com', currentPassword: user.password },
    })
    expect(response.statusCode, response.body).toBe(200)
    const body = await latestMail(context.app, 'moved@example.com', CHANGE_SUBJECT)
    expect(body).toContain(`\nhttps://auth.example.com/account/verify-email#token=${tokenIn(body)}\n`)
  })

  it('the password reset mail links to /account/reset-password', async () => {
    const user = await createUser(context.app)
    const response = await context.app.inject({ method: 'POST', url: '/v1/auth/password-reset', payload: { email: user.email } })
    expect(response.statusCode).toBe(202)
    const body = await latestMail(context.app, user.email, RESET_SUBJECT)
    expect(body).toContain(`\nhttps://auth.example.com/account/reset-password#token=${tokenIn(body)}\n`)
  })
})

describe('without PUBLIC_URL', () => {
  const { context } = useTestApp()

  it('the verification mail has its token and no link', async () => {
    const user = await createUser(context.app)
    const body = await latestMail(context.app, user.email, VERIFY_SUBJECT)
    expect(tokenIn(body)).toMatch(/^tsr_mail_/)
    expect(body).not.toContain('/account/')
  })
})
