import { describe, expect, it } from 'vitest'
import { emailChangeMail, pageLinkUrl, passwordResetMail, verificationMail } from '../../src/mail/templates.js'

const user = { id: '00000000-0000-4000-8000-000000000001', email: 'ada@example.com', username: 'ada' }
const TOKEN = 'tsr_mail_abc-DEF_123'

describe('links to the web page in mails', () => {
  it.each([
    ['https://auth.example.com', 'https://auth.example.com/account/verify-email#token=tsr_mail_abc-DEF_123'],
    ['https://auth.example.com/', 'https://auth.example.com/account/verify-email#token=tsr_mail_abc-DEF_123'],
    ['http://example.com/tessera/', 'http://example.com/tessera/account/verify-email#token=tsr_mail_abc-DEF_123'],
  ])('joins PUBLIC_URL %j and the landing page without a double slash', (publicUrl, expected) => {
    expect(pageLinkUrl(publicUrl, 'verify-email', TOKEN)).toBe(expected)
  })

  it.each([
    ['verification', verificationMail(user, TOKEN, 3600, 'https://auth.example.com'), 'verify-email'],
    ['email change', emailChangeMail(user, 'new@example.com', TOKEN, 3600, 'https://auth.example.com'), 'verify-email'],
    ['password reset', passwordResetMail(user.email, TOKEN, 1800, 'https://auth.example.com'), 'reset-password'],
  ])('the %s mail carries the token line and the link, on a line of its own', (_name, mail, page) => {
    expect(mail.bodyText).toMatch(/^token: tsr_mail_abc-DEF_123$/m)
    expect(mail.bodyText.split('\n')).toContain(`https://auth.example.com/account/${page}#token=${TOKEN}`)
  })

  it.each([
    ['verification', verificationMail(user, TOKEN, 3600)],
    ['email change', emailChangeMail(user, 'new@example.com', TOKEN, 3600)],
    ['password reset', passwordResetMail(user.email, TOKEN, 1800)],
  ])('without PUBLIC_URL the %s mail has the token and no link', (_name, mail) => {
    expect(mail.bodyText).toMatch(/^token: tsr_mail_abc-DEF_123$/m)
    expect(mail.bodyText).not.toContain('/account/')
  })
})
