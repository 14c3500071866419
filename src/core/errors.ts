/**
 * Errors the core raises. Each has a stable `code`; src/http/problem.ts maps them to HTTP status and
 * RFC 9457 problem documents in one place, so use cases never speak HTTP.
 */
export class LouderError extends Error {
  readonly code: string
  /** Extra members for the problem document, already in their HTTP form (the current version after a 409, …). */
  extensions?: Record<string, unknown>
  constructor(code: string, message: string) {
    super(message)
    this.name = new.target.name
    this.code = code
  }
}

export interface FieldError {
  field: string
  message: string
}

/** Input that breaks a rule the schema could not express. */
export class ValidationError extends LouderError {
  readonly errors: FieldError[]
  constructor(errors: FieldError[], message = 'The request is not valid.') {
    super('validation_failed', message)
    this.errors = errors
  }
}

export class NotFoundError extends LouderError {
  constructor(kind: string, id: string) {
    super('not_found', `No ${kind} with id ${id}.`)
  }
}

/** No credentials, or credentials that are not (or no longer) valid. */
export class UnauthenticatedError extends LouderError {
  constructor(message = 'Sign in or send a valid API token (Authorization: Bearer …).') {
    super('unauthenticated', message)
  }
}

/** Valid credentials that do not allow this action. */
export class ForbiddenError extends LouderError {
  /** `code` names a rule more precise than the role check (`two_person_rule`); `detail` says what to do instead. */
  constructor(action: string, code = 'forbidden', detail = '') {
    super(code, `You are not allowed to ${action}.${detail ? ` ${detail}` : ''}`)
  }
}

/** A domain rule refuses the change (illegal transition, two-person rule, …). */
export class RuleError extends LouderError {}

/** The state changed under the caller, or the same thing already exists. */
export class ConflictError extends LouderError {}

export function throwNotFound(kind: string, id: string): never {
  throw new NotFoundError(kind, id)
}
