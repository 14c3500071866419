export const ROLES = ['admin', 'editor', 'researcher', 'legal', 'partner'] as const
export type Role = (typeof ROLES)[number]

/** Who is acting: a signed-in user (through a token or session), nobody, or Louder itself (jobs, CLI on the data directory). */
export type Actor =
  | {
      kind: 'user'
      userId: string
      roles: Role[]
      orgId: string | null
      /** How the request proved who it is. */
      via: 'token' | 'session'
      tokenId: string | null
      sessionId: string | null
      /** Signed in, but policy requires two-factor login and none is enrolled yet: only enrolment is allowed. */
      twoFactorPending: boolean
      /** Signed in with a one-time password (first start, an account an admin made): only a password change is allowed. */
      passwordChangePending?: boolean
    }
  | { kind: 'anonymous' }
  | { kind: 'system'; name: string }

export const ANONYMOUS: Actor = { kind: 'anonymous' }

export function systemActor(name: string): Actor {
  return { kind: 'system', name }
}

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value)
}

/** A stable string naming the actor, for idempotency scopes and audit records. */
export function actorKey(actor: Actor): string {
  if (actor.kind === 'user') return `user:${actor.userId}`
  if (actor.kind === 'system') return `system:${actor.name}`
  return 'anonymous'
}
