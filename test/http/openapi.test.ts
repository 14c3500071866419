/**
 * The OpenAPI document is generated from the schemas that validate requests, so it is only worth as much
 * as its coverage: every route the server answers is in it, every operation names its policy action, and
 * every error it can answer is documented as an RFC 9457 problem.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { POLICY } from '../../src/core/access/policy.ts'
import { VERSION } from '../../src/version.ts'
import { registeredRoutes } from '../access/support.ts'
import { startTestApi, type TestApi } from './harness.ts'

interface Operation {
  'x-louder-action'?: string
  security?: Record<string, string[]>[]
  parameters?: { in: string; name: string; required?: boolean; schema?: Record<string, unknown> }[]
  requestBody?: { content: Record<string, { schema: unknown }> }
  responses: Record<string, { description?: string; content?: Record<string, { schema: Record<string, unknown> }> }>
}
interface OpenApiDocument {
  openapi: string
  info: { title: string; version: string }
  paths: Record<string, Record<string, Operation>>
  components?: { securitySchemes?: Record<string, unknown> }
}


/** Media types a success response may have instead of JSON: exports streamed a record per line; signed notes and keys in their own text formats (C2SP). */
const STREAMED_TYPES = ['application/x-ndjson', 'text/csv', 'text/plain', 'application/octet-stream']

const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']

describe('OpenAPI document', () => {
  let api: TestApi
  let doc: OpenApiDocument
  const operations = () =>
    Object.entries(doc.paths).flatMap(([path, item]) =>
      Object.entries(item)
        .filter(([method]) => HTTP_METHODS.includes(method))
        .map(([method, op]) => ({ key: `${method.toUpperCase()} ${path}`, method, path, op })),
    )

  beforeAll(async () => {
    api = await startTestApi('sqlite')
    const res = await api.app.inject({ method: 'GET', url: '/api/openapi.json' })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/^application\/json/)
    doc = res.json()
  })
  afterAll(async () => {
    await api?.close()
  })

  it('is OpenAPI 3.1 for this version, and needs no sign-in', async () => {
    expect(doc.openapi).toMatch(/^3\.1\.\d+$/)
    expect(doc.info).toMatchObject({ title: expect.any(String), version: VERSION })
    expect(doc.components?.securitySchemes).toHaveProperty('bearer', { type: 'http', scheme: 'bearer' })
  })

  it('lists every registered route, and nothing the server does not answer', () => {
    // HEAD routes come with every GET, and the document does not list itself.
    const registered = [...registeredRoutes(api.app)].filter((r) => !r.startsWith('HEAD ') && r !== 'GET /api/openapi.json').sort()
    expect(registered.length).toBeGreaterThanOrEqual(6)
    expect(operations().map((o) => o.key).sort()).toEqual(registered)
    for (const { method, path } of operations()) expect(api.app.hasRoute({ method: method.toUpperCase() as 'GET', url: path.replace(/\{(\w+)\}/g, ':$1') }), `${method} ${path}`).toBe(true)
  })

  it('names a policy action on every operation, and secures exactly the ones that need sign-in', () => {
    for (const { key, op } of operations()) {
      const action = op['x-louder-action']
      expect(action, key).toBeDefined()
      expect(Object.keys(POLICY), key).toContain(action)
      const rule = POLICY[action as keyof typeof POLICY]
      if (rule === 'public') expect(op.security, key).toBeUndefined()
      else expect(op.security, key).toEqual([{ bearer: [] }])
    }
  })

  it('documents a success response on every operation', () => {
    for (const { key, op } of operations()) {
      const ok = Object.keys(op.responses).filter((s) => /^2\d\d$/.test(s))
      expect(ok, key).toHaveLength(1)
      // 204 No Content has, by definition, no body to describe; nor has tus's 201 Created (its Location is the answer).
      if (ok[0] === '204') expect(op.responses['204']!.content, key).toBeUndefined()
      else if (key === 'POST /api/v1/uploads') expect(op.responses['201']!.content, key).toBeUndefined()
      else {
        // JSON, except for exports that stream (JSON Lines, CSV): every media type named, each with its schema.
        const content = op.responses[ok[0]!]!.content ?? {}
        const types = Object.keys(content)
        expect(types.length, key).toBeGreaterThan(0)
        if (!types.includes('application/json')) expect(STREAMED_TYPES, key).toEqual(expect.arrayContaining(types))
        for (const type of types) expect(content[type]!.schema, `${key} ${type}`).toBeDefined()
      }
    }
  })

  it('documents the problems each operation can answer, as application/problem+json', () => {
    for (const { key, op } of operations()) {
      const expected = new Set<string>()
      if (op.security) expected.add('401').add('403')
      if (op.requestBody || op.parameters?.length) expected.add('400')
      if (op.requestBody) expected.add('413').add('415')
      if (op.parameters?.some((p) => p.in === 'path')) expected.add('404')
      if (op.parameters?.some((p) => p.in === 'header' && p.name === 'idempotency-key')) expected.add('409').add('422')
      const documented = Object.keys(op.responses).filter((s) => /^[45]\d\d$/.test(s))
      expect(documented, key).toEqual(expect.arrayContaining([...expected]))
      for (const status of documented) {
        const response = op.responses[status]!
        expect(Object.keys(response.content ?? {}), `${key} ${status}`).toEqual(['application/problem+json'])
        const schema = response.content!['application/problem+json']!.schema as { required?: string[]; properties?: Record<string, unknown> }
        expect(schema.required, `${key} ${status}`).toEqual(expect.arrayContaining(['type', 'title', 'status', 'code']))
        expect(Object.keys(schema.properties ?? {}), `${key} ${status}`).toEqual(expect.arrayContaining(['detail', 'errors']))
        expect(response.description, `${key} ${status}`).toMatch(/problem/i)
      }
    }
  })

  it('documents request bodies as JSON that refuses unknown fields, and the Idempotency-Key on writes that take one', () => {
    for (const { key, op } of operations()) {
      if (!op.requestBody) continue
      expect(Object.keys(op.requestBody.content), key).toEqual(['application/json'])
      expect(op.requestBody.content['application/json']!.schema, key).toMatchObject({ type: 'object', additionalProperties: false })
    }
    const create = doc.paths['/api/v1/observations']!.post!
    const header = create.parameters?.find((p) => p.in === 'header' && p.name === 'idempotency-key')
    expect(header).toMatchObject({ required: false, schema: { maxLength: 255 } })
  })

  it('documents the list parameters every list shares', () => {
    for (const { key, op } of operations()) {
      if (!op.responses['200']?.content?.['application/json']?.schema || !('items' in ((op.responses['200'].content['application/json'].schema as { properties?: object }).properties ?? {}))) continue
      const names = op.parameters?.filter((p) => p.in === 'query').map((p) => p.name)
      expect(names, key).toEqual(expect.arrayContaining(['limit', 'cursor']))
    }
  })
})

describe.each(['sqlite', 'postgres'] as const)('health [%s]', (dialect) => {
  let api: TestApi
  beforeAll(async () => {
    api = await startTestApi(dialect)
  })
  afterAll(async () => {
    await api?.close()
  })

  it('says it is up, its version and its database, without sign-in', async () => {
    const res = await api.app.inject({ method: 'GET', url: '/api/v1/health' })
    expect(res.statusCode).toBe(200)
    expect(res.headers['content-type']).toMatch(/^application\/json/)
    expect(res.headers['cache-control']).toBe('no-store')
    expect(res.json()).toMatchObject({ status: 'ok', version: VERSION, database: dialect })
  })
})
