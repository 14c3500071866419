import type { Duplex } from 'node:stream'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import { SecondFactorRequiredError, TooManyAttemptsError } from '../core/accounts/login.ts'
import { ConflictError, ForbiddenError, LouderError, NotFoundError, RuleError, UnauthenticatedError, ValidationError, type FieldError } from '../core/errors.ts'

export interface ProblemDocument {
  type: string
  title: string
  status: number
  detail?: string
  code: string
  errors?: FieldError[]
  /** Extensions (RFC 9457 §3.2) some conflicts carry: the record as it is now, the lock that is in the way. */
  current?: unknown
  lock?: unknown
}

const TITLES: Record<number, string> = {
  400: 'Bad request',
  401: 'Not signed in',
  403: 'Forbidden',
  404: 'Not found',
  405: 'Method not allowed',
  408: 'Request timeout',
  409: 'Conflict',
  413: 'Request body too large',
  414: 'URI too long',
  415: 'Unsupported media type',
  422: 'Unprocessable request',
  429: 'Too many requests',
  431: 'Request headers too large',
  500: 'Internal error',
  503: 'Unavailable',
}

export function problem(status: number, code: string, detail?: string, errors?: FieldError[]): ProblemDocument {
  return { type: `/api/problems/${code}`, title: TITLES[status] ?? 'Error', status, code, ...(detail ? { detail } : {}), ...(errors ? { errors } : {}) }
}

/** The one place errors become HTTP: core errors by class, Fastify's by code, anything else a bare 500. */
export function toProblem(err: unknown): ProblemDocument {
  if (isFastifyValidation(err)) return problem(400, 'validation_failed', 'The request does not match the schema; see `errors`.', validationErrors(err))
  // Use cases name the input field they refuse (`orgId`); over HTTP that input is the body, and `errors`
  // point into the request like the schema's own errors do (`/body/orgId`).
  if (err instanceof ValidationError) return problem(400, err.code, err.message, err.errors.map((e) => (e.field.startsWith('/') ? e : { ...e, field: `/body/${e.field}` })))
  if (err instanceof UnauthenticatedError || err instanceof SecondFactorRequiredError) return problem(401, err.code, err.message)
  if (err instanceof TooManyAttemptsError) return problem(429, err.code, err.message)
  if (err instanceof ForbiddenError) return problem(403, err.code, err.message)
  if (err instanceof NotFoundError) return problem(404, err.code, err.message)
  if (err instanceof IdempotencyKeyReusedError) return problem(422, err.code, err.message)
  if (err instanceof RuleError || err instanceof ConflictError) return { ...problem(409, err.code, err.message), ...err.extensions }
  if (err instanceof LouderError) return problem(400, err.code, err.message)
  const fe = err as Partial<FastifyError> & { status?: number }
  switch (fe.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return problem(413, 'body_too_large', 'The request body is larger than this endpoint accepts.')
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return problem(415, 'unsupported_media_type', 'Send the body as application/json.')
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return problem(400, 'empty_body', 'The body is empty; send a JSON document.', [{ field: '/body', message: 'is empty' }])
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return problem(400, 'bad_content_length', 'Content-Length does not match the body.')
    case 'FST_ERR_BAD_URL':
      return problem(400, 'bad_url', 'The URL is not valid (check its percent-encoding).')
    case 'FST_ERR_MAX_PARAM_LENGTH':
      return problem(414, 'uri_too_long', 'A path segment of the URL is longer than any this API uses.')
  }
  const status = fe.statusCode ?? fe.status
  if (typeof status === 'number' && status >= 400 && status < 500) return problem(status, typeof fe.code === 'string' ? fe.code.toLowerCase() : 'bad_request', fe.message)
  return problem(500, 'internal', 'Something went wrong on the server; it has been logged.')
}

export function sendProblem(reply: FastifyReply, doc: ProblemDocument): FastifyReply {
  if (doc.status === 401) reply.header('www-authenticate', 'Bearer')
  return reply.code(doc.status).type('application/problem+json').send(doc)
}

export function errorHandler(err: unknown, req: FastifyRequest, reply: FastifyReply) {
  const doc = toProblem(err)
  if (doc.status >= 500) req.log.error({ err: { name: (err as Error)?.name, message: (err as Error)?.message, stack: (err as Error)?.stack } }, 'request failed')
  if (err instanceof TooManyAttemptsError) reply.header('retry-after', String(err.retryAfterSeconds))
  return sendProblem(reply, doc)
}

/**
 * Requests Node's HTTP parser refuses (malformed request line or headers, headers too large, timeouts)
 * never reach a route; answer them as problem documents too, then close the connection as Node would.
 */
export function clientErrorHandler(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return
  const doc =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? problem(408, 'request_timeout', 'The request took too long to arrive.')
    : err.code === 'HPE_HEADER_OVERFLOW' ? problem(431, 'headers_too_large', 'The request headers are larger than this server accepts.')
    : problem(400, 'malformed_request', 'The request is not valid HTTP.')
  const body = JSON.stringify(doc)
  if (socket.writable)
    socket.write(
      `HTTP/1.1 ${doc.status} ${doc.title}\r\nContent-Type: application/problem+json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    )
  socket.destroy(err)
}

/** The same Idempotency-Key came back with a different request (IETF draft: 422). */
export class IdempotencyKeyReusedError extends LouderError {
  constructor() {
    super('idempotency_key_reused', 'This Idempotency-Key was already used for a different request; use a new key for a new request.')
  }
}

/** The first request with this key is still running (IETF draft: 409). */
export class IdempotencyInFlightError extends ConflictError {
  constructor() {
    super('idempotency_in_flight', 'A request with this Idempotency-Key is still being processed; retry in a moment.')
  }
}

function isFastifyValidation(err: unknown): err is FastifyError & { validation: AjvError[]; validationContext?: string } {
  return typeof err === 'object' && err !== null && Array.isArray((err as { validation?: unknown }).validation)
}

export interface AjvError {
  keyword: string
  instancePath: string
  message?: string
  params: Record<string, unknown>
}

/** Schema errors as field errors, pointing into the request from `base` (`/body`, `/body/items/3/body`). */
export function schemaFieldErrors(errors: readonly AjvError[], base: string): FieldError[] {
  return errors.map((e) => {
    const path = base + e.instancePath
    if (e.keyword === 'additionalProperties') return { field: `${path}/${String(e.params.additionalProperty)}`, message: 'is not a known field' }
    if (e.keyword === 'required') return { field: `${path}/${String(e.params.missingProperty)}`, message: 'is required' }
    return { field: path, message: e.message ?? e.keyword }
  })
}

function validationErrors(err: FastifyError & { validation: AjvError[]; validationContext?: string }): FieldError[] {
  return schemaFieldErrors(err.validation, `/${err.validationContext ?? 'body'}`)
}

/** An oversized raw upload a handler measured itself: the same 413 as Fastify's own body limit gives. */
export function bodyTooLarge(message = 'The request body is larger than this endpoint accepts.'): Error {
  return Object.assign(new Error(message), { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 })
}
