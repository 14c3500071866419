import { describe, expect, it } from 'vitest'
import { emailForAudit } from './auth.ts'

describe('the email a failed sign-in leaves in the audit log', () => {
  it('is kept when it looks like an email', () => {
    expect(emailForAudit(' Amina@example.org ')).toBe('Amina@example.org')
  })

  it('is dropped when it looks like a password typed in the wrong field', () => {
    for (const typed of ['correct horse battery staple', 'hunter2', 'p@ss word', '@@@'])
      expect(emailForAudit(typed)).toBe('(not an email address)')
  })
})
