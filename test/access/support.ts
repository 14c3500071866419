/**
 * Helpers the access tests share: the operations a server answers (from its OpenAPI document and its
 * route tree), users with real passwords, sign-in through the API, and a fresh client address per request
 * so the per-address limit on password endpoints (src/http/rate-limit.ts) never decides a test's outcome
 * unless the test is about it.
 */
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import type { Role } from '../../src/core/access/actor.ts'
import { createUser } from '../../src/core/accounts/users.ts'
import { uuidv7 } from '../../src/core/ids.ts'
import type { TestApi } from '../http/harness.ts'

export interface Operation {
  'x-louder-action'?: string
  security?: Record<string, string[]>[]
  parameters?: { in: string; name: string; required?: boolean }[]
  requestBody?: { content: Record<string, { schema: unknown }> }
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>
}

export interface OpenApiDocument {
  paths: Record<string, Record<string, Operation>>
}

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']

/** Every operation of the document, keyed `METHOD /path` with the path in OpenAPI form (`{id}`). */
export function documentedOperations(doc: OpenApiDocument): Map<string, Operation> {
  const ops = new Map<string, Operation>()
  for (const [path, item] of Object.entries(doc.paths))
    for (const [method, op] of Object.entries(item)) if (HTTP_METHODS.includes(method)) ops.set(`${method.toUpperCase()} ${path}`, op)
  return ops
}

/** Method + path of every route in `app.printRoutes({ commonPrefix: false })`'s tree, in OpenAPI form. */
export function registeredRoutes(app: FastifyInstance): Set<string> {
  const routes = new Set<string>()
  const prefixes: string[] = []
  for (const line of app.printRoutes({ commonPrefix: false }).split('\n')) {
    const m = /^((?:│ {3}| {4})*)(?:├── |└── )(\S+)(?: \(([^)]+)\))?$/.exec(line)
    if (!m) continue
    const depth = m[1]!.length / 4
    const path = (prefixes[depth - 1] ?? '') + m[2]!
    prefixes.length = depth
    prefixes[depth] = path
    for (const method of m[3]?.split(', ') ?? []) routes.add(`${method} ${path.replace(/:(\w+)/g, '{$1}')}`)
  }
  return routes
}

export async function openApiDocument(app: FastifyInstance): Promise<OpenApiDocument> {
  const res = await app.inject({ method: 'GET', url: '/api/openapi.json' })
  if (res.statusCode !== 200) throw new Error(`GET /api/openapi.json answered ${res.statusCode}`)
  return res.json() as OpenApiDocument
}

let address = 0

/** A client address no other request of this process used (10.0.0.0/8 holds 16 million). */
export function freshAddress(): string {
  address++
  return `10.${(address >> 16) & 255}.${(address >> 8) & 255}.${address & 255}`
}

/** The password every user made by passwordUser() has, unless told otherwise. */
export const PASSWORD = 'correct horse battery staple'

export interface PasswordUser {
  id: string
  email: string
  password: string
}

/** A user made the way the API makes them (argon2id hash and all), with a password the test knows. */
export async function passwordUser(api: TestApi, roles: Role[], password = PASSWORD): Promise<PasswordUser> {
  const email = `${uuidv7()}@example.org`
  const { user } = await createUser(api.ctx.store.repos, api.ctx.passwords, { email, displayName: roles.join('+'), roles, password })
  return { id: user.id, email, password }
}

export interface Request {
  method?: InjectOptions['method']
  url: string
  token?: string | null
  /** A JSON value, or raw text sent as it is (for bodies JSON.stringify cannot write, such as duplicate keys). */
  body?: unknown
  headers?: Record<string, string>
  cookies?: Record<string, string>
  remoteAddress?: string
}

/** One request through app.inject, from a fresh client address unless one is given. */
export function call(app: FastifyInstance, r: Request): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = { ...r.headers }
  if (r.token) headers.authorization = `Bearer ${r.token}`
  if (r.body !== undefined) headers['content-type'] ??= 'application/json'
  return app.inject({
    method: r.method ?? (r.body === undefined ? 'GET' : 'POST'),
    url: r.url,
    headers,
    cookies: r.cookies,
    remoteAddress: r.remoteAddress ?? freshAddress(),
    ...(r.body === undefined ? {} : { payload: typeof r.body === 'string' ? r.body : JSON.stringify(r.body) }),
  } as InjectOptions)
}

export interface BrowserSession {
  /** The `louder_session` cookie value. */
  cookie: string
  csrfToken: string
  response: LightMyRequestResponse
}

/** Signs in at /auth/login and returns the session cookie and CSRF token it set. Throws unless it answered 200. */
export async function signIn(app: FastifyInstance, email: string, password: string, extra: Partial<Request> & { body?: Record<string, unknown> } = {}): Promise<BrowserSession> {
  const response = await call(app, { ...extra, url: '/api/v1/auth/login', body: { email, password, ...extra.body } })
  if (response.statusCode !== 200) throw new Error(`sign-in answered ${response.statusCode}: ${response.body}`)
  const cookie = response.cookies.find((c) => c.name === 'louder_session')?.value
  const csrf = response.cookies.find((c) => c.name === 'louder_csrf')?.value
  const body = response.json() as { csrfToken: string }
  if (!cookie || !csrf) throw new Error('sign-in set no session cookie')
  if (csrf !== body.csrfToken) throw new Error('the CSRF cookie and the CSRF token in the body differ')
  return { cookie, csrfToken: body.csrfToken, response }
}

/** Options for a request made with a browser session: its cookie, and its CSRF token unless `csrf` says otherwise. */
export function withSession(s: BrowserSession, csrf: string | null = s.csrfToken): Pick<Request, 'cookies' | 'headers'> {
  return { cookies: { louder_session: s.cookie }, headers: csrf === null ? {} : { 'x-csrf-token': csrf } }
}

/** The fields an RFC 9457 problem document may carry; a refusal may carry nothing else. */
export const PROBLEM_FIELDS = ['type', 'title', 'status', 'detail', 'code', 'errors'] as const
