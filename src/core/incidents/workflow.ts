import { RuleError } from '../errors.ts'
import type { IncidentStatus } from './incident.ts'

/**
 * The review workflow as data: from each status, the statuses it may move to. Review starts from what came
 * in; a decision (verified, unverifiable, rejected) can be reopened; only a verified incident is published,
 * and a published one leaves the public view only by retraction, which can itself be reopened for review.
 */
export const TRANSITIONS: Readonly<Record<IncidentStatus, readonly IncidentStatus[]>> = {
  received: ['in_review', 'rejected'],
  in_review: ['verified', 'unverifiable', 'rejected'],
  verified: ['published', 'in_review'],
  unverifiable: ['in_review'],
  rejected: ['in_review'],
  published: ['retracted'],
  retracted: ['in_review'],
}

/** Transitions that must say why: the reason is kept with the status and shown to reviewers. */
export const NEEDS_REASON: ReadonlySet<IncidentStatus> = new Set(['rejected', 'retracted'])

/** Statuses whose content may be edited; a published incident is retracted first, so the public record never changes silently. */
export function isEditable(status: IncidentStatus): boolean {
  return status !== 'published'
}

export class IllegalTransitionError extends RuleError {
  constructor(from: IncidentStatus, to: IncidentStatus) {
    const allowed = TRANSITIONS[from]
    super('illegal_transition', `An incident that is ${from} cannot become ${to}; from ${from} it can become ${allowed.length ? allowed.join(', ') : 'nothing else'}.`)
  }
}

/** Throws unless `from → to` is a transition of the workflow, with a reason where one is needed. */
export function checkTransition(from: IncidentStatus, to: IncidentStatus, reason: string | null): void {
  if (!TRANSITIONS[from].includes(to)) throw new IllegalTransitionError(from, to)
  if (NEEDS_REASON.has(to) && !reason?.trim()) throw new RuleError('reason_required', `Say why the incident is ${to}: send a non-empty \`reason\`.`)
}
