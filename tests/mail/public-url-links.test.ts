import { afterEach, describe, expect, it } from 'vitest'
import { useTestApp } from '../helpers/app.js'
import { createLoggedInUser, createUser } from '../helpers/factories.js'
import { CHANGE_SUBJECT, decodeQuotedPrintable, mailsTo, RESET_SUBJECT, startSmtp, tokenIn, VERIFY_SUBJECT } from '../helpers/mail.js'

const PUBLIC_URL = 'https://auth.example.com/'

async function latestMail (app: Parameters<typeof mailsTo>[0], recipient: string, subject: RegExp) {
  const mail = (await mailsTo(app, recipient)).filter((each) => subject.test(each.subject)).at(-1)
  expect(mail, `no mail to ${recipient} matching ${subject}`).toBeDefined()
  return mail?.bodyText ?? ''
}

describe('with PUBLIC_URL set', () => {
  const { context, setup } = useTestApp({ env: { PUBLIC_URL } })
  const closers: (() => Promise<void>)[] = []
  afterEach(async () => {
    for (const close of closers.splice(0)) await close()
  })

  it('delivers the link, then blanks its token in the stored copy as it does the token line', async () => {
    const smtp = await startSmtp()
    closers.push(smtp.close)
    await setup({ env: { SMTP_URL: `smtp://127.0.0.1:${smtp.port}` } })
    const user = await createUser(context.app)
    const token = tokenIn(await latestMail(context.app, user.email, VERIFY_SUBJECT))
    expect(await context.app.tessera.mailer.deliverPending()).toEqual({ sent: 1, failed: 0 })
    expect(decodeQuotedPrintable(smtp.received[0]?.data ?? '')).toContain(`https://auth.example.com/account/verify-email#token=${token}`)
    const stored = await latestMail(context.app, user.email, VERIFY_SUBJECT)
    expect(stored).not.toContain(token)
    expect(stored).toContain('https://auth.example.com/account/verify-email#token=[removed-after-delivery]')
  })

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
