/**
 * Bad input is a test subject (docs/architecture.md "Tests"): every endpoint gets malformed, oversized and
 * hostile input and must answer with a clear RFC 9457 problem, keep running, and store nothing partial.
 * Runs on SQLite and on PostgreSQL, in-process through `app.inject`, and over a real socket for what only
 * the HTTP parser sees.
 */
import { connect } from 'node:net'
import fc from 'fast-check'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { hashToken, issueToken } from '../../src/core/accounts/tokens.ts'
import { uuidv7 } from '../../src/core/ids.ts'
import { bearer, expectProblem, observationBody, postJson, startTestApi, type TestApi } from './harness.ts'

const OBS = '/api/v1/observations'
const TOKEN = '/api/v1/auth/token'
const JOBS = '/api/v1/jobs'

for (const dialect of ['sqlite', 'postgres'] as const) {
  describe(`bad input [${dialect}]`, () => {
    let api: TestApi
    let before: { observations: number; keys: number }
    /** Requests in this file that were meant to succeed and did: the only rows the barrage may add. */
    const accepted = { observations: 0, keys: 0 }
    const counts = async () => ({
      observations: await api.ctx.store.repos.observations.count(),
      keys: Number((await api.ctx.db.kysely.selectFrom('idempotency_keys').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n),
    })

    beforeAll(async () => {
      api = await startTestApi(dialect)
      // Something to list, so list endpoints run their queries rather than return early.
      const res = await postJson(api.app, OBS, api.token.researcher, observationBody())
      expect(res.statusCode).toBe(201)
      before = await counts()
    })
    afterAll(async () => {
      await api?.close()
    })

    const postObs = async (payload: unknown, headers: Record<string, string> = {}) => {
      const res = await postJson(api.app, OBS, api.token.researcher, payload, headers)
      if (res.statusCode === 201) {
        accepted.observations++
        if (headers['idempotency-key']) accepted.keys++
      }
      return res
    }
    const get = (url: string, token: string | null = api.token.researcher, headers: Record<string, string> = {}) =>
      api.app.inject({ method: 'GET', url, headers: { ...(token ? bearer(token) : {}), ...headers } })

    describe('JSON bodies', () => {
      it.each([
        ['truncated', '{"narrative":'],
        ['single quotes', "{'narrative':'x'}"],
        ['trailing comma', '{"narrative":"x",}'],
        ['bare word', 'nope'],
        ['NaN', '{"narrative":"x","location":{"lat":NaN,"lon":0}}'],
        ['two documents', '{"a":1}{"b":2}'],
        ['comment', '{"narrative":"x" /* hi */}'],
        ['whitespace only', '   \n '],
        ['unterminated string', '{"narrative":"x'],
      ])('refuses malformed JSON (%s) on both write endpoints', async (_name, payload) => {
        for (const url of [OBS, TOKEN]) {
          const doc = expectProblem(await postJson(api.app, url, api.token.researcher, payload), 400)
          expect(doc.errors?.map((e) => e.field)).toEqual(['/body'])
        }
      })

      it('ignores a leading byte order mark, as RFC 8259 §8.1 allows', async () => {
        expect((await postObs(`\ufeff${JSON.stringify(observationBody())}`)).statusCode).toBe(201)
      })

      it('refuses an empty body, with or without a content type', async () => {
        for (const url of [OBS, TOKEN]) {
          expect(expectProblem(await postJson(api.app, url, api.token.researcher, ''), 400).errors?.map((e) => e.field)).toEqual(['/body'])
          const bare = await api.app.inject({ method: 'POST', url, headers: bearer(api.token.researcher) })
          expect(expectProblem(bare, 400).errors?.map((e) => e.field)).toEqual(['/body'])
        }
      })

      it.each([
        ['null', 'null'],
        ['an array', '[]'],
        ['a string', '"narrative"'],
        ['a number', '42'],
      ])('refuses a JSON document that is %s rather than an object', async (_name, payload) => {
        for (const url of [OBS, TOKEN]) expect(expectProblem(await postJson(api.app, url, api.token.researcher, payload), 400).errors?.map((e) => e.field)).toEqual(['/body'])
      })

      it.each([
        ['narrative as a number', { narrative: 5 }, '/body/narrative'],
        ['narrative as an object', { narrative: { text: 'x' } }, '/body/narrative'],
        ['occurredAt as epoch ms', { occurredAt: 1714564800000 }, '/body/occurredAt'],
        ['occurredAt not a time', { occurredAt: 'yesterday' }, '/body/occurredAt'],
        ['occurredAt without offset', { occurredAt: '2024-05-01T12:00:00' }, '/body/occurredAt'],
        ['occurredAt on 30 February', { occurredAt: '2024-02-30T12:00:00Z' }, '/body/occurredAt'],
        ['latitude as a string', { location: { lat: '12.5', lon: 3 } }, '/body/location/lat'],
        ['longitude as a boolean', { location: { lat: 12.5, lon: true } }, '/body/location/lon'],
        ['latitude out of range', { location: { lat: 91, lon: 0 } }, '/body/location/lat'],
        ['longitude out of range', { location: { lat: 0, lon: -180.0001 } }, '/body/location/lon'],
        ['location as a string', { location: '12.5,3' }, '/body/location'],
        ['empty narrative', { narrative: '' }, '/body/narrative'],
        ['narrative over 20 000 characters', { narrative: 'n'.repeat(20_001) }, '/body/narrative'],
      ])('POST /observations refuses %s, naming the field', async (_name, overrides, field) => {
        const doc = expectProblem(await postObs(observationBody(overrides)), 400, 'validation_failed')
        expect(doc.errors?.map((e) => e.field)).toContain(field)
      })

      it.each([
        // RFC 3339 allows both, but no JavaScript time can hold them: a clear 400, not a 500 on NaN.
        ['a leap second', '2016-12-31T23:59:60Z'],
        ['an hours-only offset', '2024-05-01T12:00:00+05'],
      ])('POST /observations refuses a time with %s as bad input', async (_name, occurredAt) => {
        const doc = expectProblem(await postObs(observationBody({ occurredAt })), 400, 'validation_failed')
        expect(doc.errors?.map((e) => e.field)).toEqual(['/body/occurredAt'])
      })

      it('POST /auth/token refuses a number for a string, naming the fields', async () => {
        const doc = expectProblem(await postJson(api.app, TOKEN, null, { email: 12345, password: true }), 400, 'validation_failed')
        expect(doc.errors?.map((e) => e.field).sort()).toEqual(['/body/email', '/body/password'])
      })

      it('refuses unknown fields, at any depth, naming each', async () => {
        let doc = expectProblem(await postObs(observationBody({ bogus: 1 })), 400, 'validation_failed')
        expect(doc.errors).toContainEqual({ field: '/body/bogus', message: expect.any(String) })
        doc = expectProblem(await postObs(observationBody({ location: { lat: 1, lon: 2, alt: 30 } })), 400)
        expect(doc.errors?.map((e) => e.field)).toContain('/body/location/alt')
        doc = expectProblem(await postJson(api.app, TOKEN, null, { email: 'a@b.org', password: 'x', remember: true }), 400)
        expect(doc.errors?.map((e) => e.field)).toEqual(['/body/remember'])
      })

      it('refuses fields sent to a write endpoint that takes no body', async () => {
        const res = await postJson(api.app, `${JOBS}/${uuidv7()}/retry`, api.token.admin, { force: true })
        expect(expectProblem(res, 400).errors?.map((e) => e.field)).toEqual(['/body/force'])
        expectProblem(await postJson(api.app, `${JOBS}/${uuidv7()}/retry`, api.token.admin, '[1]'), 400)
        // `{}` is what many clients send on every POST: it is not a field, so the request goes on (to a 404 here).
        expectProblem(await postJson(api.app, `${JOBS}/${uuidv7()}/retry`, api.token.admin, {}), 404, 'not_found')
      })

      it('names every missing required field', async () => {
        let doc = expectProblem(await postObs({}), 400)
        expect(doc.errors?.map((e) => e.field).sort()).toEqual(['/body/narrative', '/body/occurredAt'])
        doc = expectProblem(await postObs({ narrative: 'only this' }), 400)
        expect(doc.errors?.map((e) => e.field)).toEqual(['/body/occurredAt'])
        doc = expectProblem(await postObs(observationBody({ location: { lat: 1 } })), 400)
        expect(doc.errors?.map((e) => e.field)).toContain('/body/location/lon')
        doc = expectProblem(await postJson(api.app, TOKEN, null, { email: 'a@b.org' }), 400)
        expect(doc.errors?.map((e) => e.field)).toEqual(['/body/password'])
      })

      it('answers 413 to a body over 1 MiB, before parsing it', async () => {
        const big = JSON.stringify(observationBody({ narrative: 'x'.repeat(1024 * 1024) }))
        expectProblem(await postObs(big), 413, 'body_too_large')
        expectProblem(await postJson(api.app, TOKEN, null, JSON.stringify({ email: 'a@b.org', password: 'p'.repeat(1024 * 1024 + 1) })), 413)
        // 1 MiB exactly of whitespace-padded JSON is inside the limit: it gets as far as the schema.
        const padded = JSON.stringify(observationBody())
        expect((await postObs(padded.padEnd(1024 * 1024, ' '))).statusCode).toBe(201)
      })

      it.each([
        ['arrays', '['.repeat(10_000) + ']'.repeat(10_000)],
        ['objects', '{"a":'.repeat(10_000) + '1' + '}'.repeat(10_000)],
        ['unbalanced', '['.repeat(100_000)],
        ['inside a field', JSON.stringify(observationBody()).replace('"location":', `"location":${'['.repeat(5_000)}${']'.repeat(5_000)},"x":`)],
      ])('refuses deeply nested JSON (%s) with 400, not a crash', async (_name, payload) => {
        const doc = expectProblem(await postObs(payload), 400)
        expect(doc.errors?.[0]?.field).toBe('/body')
        expect((await get('/api/v1/health', null)).statusCode).toBe(200)
      })

      it.each([
        ['a stray 0xff', Buffer.from([0x7b, 0x22, 0x6e, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d])],
        ['an overlong "/"', Buffer.concat([Buffer.from('{"narrative":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('","occurredAt":"2024-05-01T12:00:00Z"}')])],
        ['an encoded surrogate', Buffer.concat([Buffer.from('{"narrative":"'), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('","occurredAt":"2024-05-01T12:00:00Z"}')])],
        ['a truncated sequence', Buffer.concat([Buffer.from('{"narrative":"'), Buffer.from([0xe2, 0x82]), Buffer.from('","occurredAt":"2024-05-01T12:00:00Z"}')])],
        ['Latin-1 bytes', Buffer.from('{"narrative":"café","occurredAt":"2024-05-01T12:00:00Z"}', 'latin1')],
      ])('refuses invalid UTF-8 (%s) instead of storing U+FFFD', async (_name, payload) => {
        const doc = expectProblem(await postObs(payload), 400)
        expect(doc.errors).toEqual([{ field: '/body', message: expect.stringMatching(/UTF-8/) }])
      })

      it('refuses text that cannot be stored as sent: NUL, lone surrogates (in values and in keys)', async () => {
        let doc = expectProblem(await postObs(observationBody({ narrative: 'before\u0000after' })), 400)
        expect(doc.errors?.map((e) => e.field)).toEqual(['/body/narrative'])
        doc = expectProblem(await postObs('{"narrative":"\\ud800 alone","occurredAt":"2024-05-01T12:00:00Z"}'), 400)
        expect(doc.errors?.map((e) => e.field)).toEqual(['/body/narrative'])
        expectProblem(await postJson(api.app, TOKEN, null, { email: 'a\u0000@b.org', password: 'x' }), 400)
        expectProblem(await postObs('{"narrative":"x","occurredAt":"2024-05-01T12:00:00Z","\\udfff":1}'), 400)
        // A proper surrogate pair (an emoji) is ordinary text.
        expect((await postObs(observationBody({ narrative: 'fire \ud83d\udd25 seen' }))).statusCode).toBe(201)
      })

      it.each([
        ['__proto__ at the top', '{"narrative":"x","occurredAt":"2024-05-01T12:00:00Z","__proto__":{"isAdmin":true}}'],
        ['__proto__ nested', '{"narrative":"x","occurredAt":"2024-05-01T12:00:00Z","location":{"lat":1,"lon":2,"__proto__":{"polluted":1}}}'],
        ['constructor.prototype', '{"narrative":"x","occurredAt":"2024-05-01T12:00:00Z","constructor":{"prototype":{"polluted":1}}}'],
        ['escaped __proto__', '{"narrative":"x","occurredAt":"2024-05-01T12:00:00Z","\\u005f_proto__":{"polluted":1}}'],
      ])('refuses %s keys and pollutes nothing', async (_name, payload) => {
        for (const url of [OBS, TOKEN]) expectProblem(await postJson(api.app, url, api.token.researcher, payload), 400)
        expect(({} as Record<string, unknown>).polluted).toBeUndefined()
        expect(({} as Record<string, unknown>).isAdmin).toBeUndefined()
      })

      it.each([
        'text/plain',
        'application/x-www-form-urlencoded',
        'multipart/form-data; boundary=x',
        'application/xml',
        'application/json-patch+json',
        'text/json',
      ])('answers 415 to a %s body', async (type) => {
        for (const url of [OBS, TOKEN, `${JOBS}/${uuidv7()}/retry`])
          expectProblem(await api.app.inject({ method: 'POST', url, headers: { ...bearer(api.token.admin), 'content-type': type }, payload: 'narrative=x' }), 415, 'unsupported_media_type')
        const bare = await api.app.inject({ method: 'POST', url: OBS, headers: bearer(api.token.researcher), payload: JSON.stringify(observationBody()) })
        expectProblem(bare, 415)
      })
    })

    describe('query strings', () => {
      it.each([
        ['limit=0', '/querystring/limit'],
        ['limit=-1', '/querystring/limit'],
        ['limit=100000', '/querystring/limit'],
        ['limit=99999999999999999999999999', '/querystring/limit'],
        ['limit=1.5', '/querystring/limit'],
        ['limit=ten', '/querystring/limit'],
        ['limit=1&limit=2', '/querystring/limit'],
        ['bbox=1,2,3', '/querystring/bbox'],
        ['bbox=a,b,c,d', '/querystring/bbox'],
        ['bbox=0,0,0,0&bbox=1,1,1,1', '/querystring/bbox'],
        ['bbox=-200,0,10,10', '/querystring/bbox'],
        ['bbox=0,-95,10,10', '/querystring/bbox'],
        ['bbox=1.2.3,0,1,1', '/querystring/bbox'],
        ['bbox=...,0,1,1', '/querystring/bbox'],
        ['bbox=0,50,10,40', '/querystring/bbox'], // south of north
        ['from=2024-02-01T00:00:00Z&to=2024-01-01T00:00:00Z', '/querystring/from'],
        ['from=garbage', '/querystring/from'],
        ['to=2016-12-31T23:59:60Z', '/querystring/to'],
        ['cursor=garbage', '/querystring/cursor'],
        ['cursor=W10', '/querystring/cursor'], // base64url of [] : a cursor of the wrong shape
        [`cursor=${Buffer.from('["x","y"]').toString('base64url')}`, '/querystring/cursor'],
        [`cursor=${Buffer.from('[1,"a\\u0000b"]').toString('base64url')}`, '/querystring/cursor'],
        [`cursor=${'A'.repeat(600)}`, '/querystring/cursor'],
        ['cursor=%ff%fe', '/querystring/cursor'],
        ['bogus=1', '/querystring/bogus'],
      ])('GET /observations?%s → 400 naming %s', async (query, field) => {
        const doc = expectProblem(await get(`${OBS}?${query}`), 400, 'validation_failed')
        expect(doc.errors?.map((e) => e.field)).toContain(field)
      })

      it.each([
        ['limit=0', '/querystring/limit'],
        ['limit=100000', '/querystring/limit'],
        ['status=exploded', '/querystring/status'],
        [`name=${'n'.repeat(101)}`, '/querystring/name'],
        ['cursor=garbage', '/querystring/cursor'],
        [`cursor=${Buffer.from('[1]').toString('base64url')}`, '/querystring/cursor'],
        ['bogus=1', '/querystring/bogus'],
      ])('GET /jobs?%s → 400 naming %s', async (query, field) => {
        const doc = expectProblem(await get(`${JOBS}?${query}`, api.token.admin), 400, 'validation_failed')
        expect(doc.errors?.map((e) => e.field)).toContain(field)
      })

      it('accepts the edges of the allowed ranges', async () => {
        for (const q of ['limit=1', 'limit=500', 'bbox=-180,-90,180,90', 'bbox=170,-10,-170,10', 'from=2024-01-01T00:00:00Z&to=2024-01-01T00:00:00Z'])
          expect((await get(`${OBS}?${q}`)).statusCode, q).toBe(200)
      })

      it('refuses a NUL or a lone surrogate in a query value, naming it (PostgreSQL text cannot hold a NUL)', async () => {
        let doc = expectProblem(await get(`${JOBS}?name=a%00b`, api.token.admin), 400)
        expect(doc.errors?.map((e) => e.field)).toEqual(['/querystring/name'])
        doc = expectProblem(await get(`${OBS}?cursor=%00`), 400)
        expect(doc.errors?.map((e) => e.field)).toEqual(['/querystring/cursor'])
      })
    })

    describe('paths', () => {
      it.each([
        [`${OBS}/not-a-uuid`, 'GET'],
        [`${OBS}/01234567-89ab-cdef-0123-456789abcdeg`, 'GET'],
        [`${OBS}/${uuidv7()}x`, 'GET'],
        [`${JOBS}/not-a-uuid/retry`, 'POST'],
        [`${JOBS}/%20/retry`, 'POST'],
      ])('%s → 400 naming /params/id', async (url, method) => {
        const doc = expectProblem(await api.app.inject({ method: method as 'GET', url, headers: bearer(api.token.admin) }), 400, 'validation_failed')
        expect(doc.errors?.map((e) => e.field)).toEqual(['/params/id'])
      })

      it('answers a path parameter longer than any id with 414, and bad percent-encoding with 400, as problems', async () => {
        expectProblem(await get(`${OBS}/${'a'.repeat(5000)}`), 414, 'uri_too_long')
        expectProblem(await get(`${OBS}/%zz`), 400, 'bad_url')
        expectProblem(await get(`${OBS}/%ff`), 400, 'bad_url')
      })

      it('answers an id nobody has with 404', async () => {
        expectProblem(await get(`${OBS}/${uuidv7()}`), 404, 'not_found')
        expectProblem(await api.app.inject({ method: 'POST', url: `${JOBS}/${uuidv7()}/retry`, headers: bearer(api.token.admin) }), 404, 'not_found')
      })

      it.each([
        ['GET', '/api/v1/nothing-here'],
        ['GET', '/api/v2/observations'],
        ['GET', '/'],
        ['DELETE', OBS],
        ['PUT', `${OBS}/${uuidv7()}`],
        ['PATCH', JOBS],
        ['GET', `${OBS}/${uuidv7()}/history`],
      ])('%s %s (no such route) → 404 problem', async (method, url) => {
        expectProblem(await api.app.inject({ method: method as 'GET', url, headers: bearer(api.token.admin) }), 404, 'not_found')
      })
    })

    describe('credentials and roles', () => {
      const unknownToken = `ldr_${'A'.repeat(43)}`
      it.each([
        ['none', undefined],
        ['Basic', 'Basic YWRtaW46cGFzcw=='],
        ['bare Bearer', 'Bearer'],
        ['Bearer and a space', 'Bearer '],
        ['two words', 'Bearer one two'],
        ['no scheme', unknownToken],
        ['unknown token', `Bearer ${unknownToken}`],
        ['wrong shape', 'Bearer ldr_short'],
        ['8 KiB token', `Bearer ${'x'.repeat(8192)}`],
        ['token with a tab', `Bearer\t${unknownToken}`],
      ])('answers 401 with WWW-Authenticate for credentials: %s', async (_name, authorization) => {
        const headers = authorization === undefined ? {} : { authorization }
        expectProblem(await api.app.inject({ method: 'GET', url: OBS, headers }), 401, 'unauthenticated')
        expectProblem(await api.app.inject({ method: 'POST', url: OBS, headers: { ...headers, 'content-type': 'application/json' }, payload: JSON.stringify(observationBody()) }), 401)
        expectProblem(await api.app.inject({ method: 'GET', url: JOBS, headers }), 401)
      })

      it('answers 401 for a revoked or expired token', async () => {
        const someone = await api.user(['researcher'])
        expect((await get(OBS, someone.token)).statusCode).toBe(200)
        const found = await api.ctx.store.repos.tokens.byHash(hashToken(someone.token))
        await api.ctx.store.repos.tokens.revoke(found!.token.id, Date.now())
        expectProblem(await get(OBS, someone.token), 401)
        const expired = await issueToken(api.ctx.store.repos, someone.id, { expiresAt: Date.now() - 1000 })
        expectProblem(await get(OBS, expired.token), 401)
      })

      it.each([
        ['partner', 'POST', OBS],
        ['legal', 'POST', OBS],
        ['partner', 'GET', OBS],
        ['partner', 'GET', `${OBS}/${uuidv7()}`],
        ['researcher', 'GET', JOBS],
        ['editor', 'GET', JOBS],
        ['researcher', 'POST', `${JOBS}/${uuidv7()}/retry`],
      ] as const)('a %s gets 403 for %s %s', async (role, method, url) => {
        const res = await api.app.inject({ method, url, headers: { ...bearer(api.token[role]), 'content-type': 'application/json' }, ...(method === 'POST' ? { payload: JSON.stringify(observationBody()) } : {}) })
        expectProblem(res, 403, 'forbidden')
      })

      it('refuses the caller before reading the body: no validation details leak to those who may not write', async () => {
        expectProblem(await postJson(api.app, OBS, api.token.partner, '{"broken'), 403)
        expectProblem(await postJson(api.app, OBS, null, '{"broken'), 401)
        expectProblem(await postJson(api.app, OBS, null, JSON.stringify({ narrative: 'x'.repeat(2 * 1024 * 1024) })), 401)
      })
    })

    describe('over a real socket', () => {
      let port: number
      beforeAll(async () => {
        await api.app.listen({ port: 0, host: '127.0.0.1' })
        port = (api.app.server.address() as { port: number }).port
      })

      /** Sends raw bytes and returns everything the server wrote back before closing. */
      function raw(data: string | Buffer): Promise<{ status: number; headers: Record<string, string>; body: string }> {
        return new Promise((resolve, reject) => {
          const socket = connect(port, '127.0.0.1')
          const chunks: Buffer[] = []
          socket.on('data', (d: Buffer) => chunks.push(d))
          socket.on('error', () => {}) // a reset after the answer is fine: the answer is what we check
          socket.on('close', () => {
            const text = Buffer.concat(chunks).toString('utf8')
            const [head = '', ...rest] = text.split('\r\n\r\n')
            const [statusLine = '', ...lines] = head.split('\r\n')
            const status = Number(statusLine.split(' ')[1])
            if (!status) return reject(new Error(`no HTTP answer: ${JSON.stringify(text.slice(0, 200))}`))
            const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]))
            resolve({ status, headers, body: rest.join('\r\n\r\n') })
          })
          socket.write(data)
          // Closing our side ends requests that wait for more bytes; the server answers what it has first.
          setTimeout(() => socket.end(), 300)
        })
      }
      const asInject = (r: { status: number; headers: Record<string, string>; body: string }) => ({ statusCode: r.status, headers: r.headers, body: r.body })

      it('answers a request that is not HTTP with a 400 problem', async () => {
        expectProblem(asInject(await raw('GARBAGE\r\n\r\n')), 400, 'malformed_request')
        expectProblem(asInject(await raw('GET /api/v1/health HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n')), 400)
      })

      it('answers oversized headers with a 431 problem', async () => {
        expectProblem(asInject(await raw(`GET /api/v1/health HTTP/1.1\r\nHost: x\r\nX-Filler: ${'a'.repeat(64 * 1024)}\r\n\r\n`)), 431, 'headers_too_large')
      })

      it('answers 413 to a declared Content-Length over 1 MiB without waiting for the body', async () => {
        const res = await raw(`POST ${OBS} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${api.token.researcher}\r\nContent-Type: application/json\r\nContent-Length: ${64 * 1024 * 1024}\r\n\r\n{"narrative":`)
        expectProblem(asInject(res), 413, 'body_too_large')
      })

      it('answers 413 to a chunked body that grows past 1 MiB', async () => {
        const chunk = 'x'.repeat(256 * 1024)
        const body = [`{"narrative":"`, chunk, chunk, chunk, chunk, chunk, `","occurredAt":"2024-05-01T12:00:00Z"}`].map((c) => `${Buffer.byteLength(c).toString(16)}\r\n${c}\r\n`).join('')
        const res = await raw(`POST ${OBS} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${api.token.researcher}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n${body}0\r\n\r\n`)
        expectProblem(asInject(res), 413)
      })

      it('answers request smuggling shapes (Content-Length with chunked, bad chunk sizes) with a 400 problem', async () => {
        expectProblem(asInject(await raw(`POST ${OBS} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`)), 400)
        expectProblem(asInject(await raw(`POST ${OBS} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n`)), 400)
      })

      it('still serves good requests on the same socket server afterwards', async () => {
        const res = await fetch(`http://127.0.0.1:${port}/api/v1/health`)
        expect(res.status).toBe(200)
      })
    })

    it('throws random JSON and bytes at POST /observations: 201 or a 4xx problem, never a 5xx', async () => {
      const start = await api.ctx.store.repos.observations.count()
      const acceptedBefore = accepted.observations
      const time = fc.date({ min: new Date(-62_000_000_000_000), max: new Date(300_000_000_000_000), noInvalidDate: true }).map((d) => d.toISOString())
      const shaped = fc.record(
        {
          narrative: fc.oneof(fc.string({ unit: 'binary', minLength: 1 }), fc.string(), fc.integer(), fc.constant(null), fc.jsonValue()),
          occurredAt: fc.oneof(time, fc.string(), fc.constantFrom('2016-12-31T23:59:60Z', '2024-05-01T12:00:00+05', '2024-05-01 12:00:00z'), fc.integer()),
          location: fc.oneof(fc.constant(null), fc.record({ lat: fc.oneof(fc.double(), fc.integer(), fc.string()), lon: fc.oneof(fc.double(), fc.string()) }, { requiredKeys: [] }), fc.jsonValue()),
          extra: fc.jsonValue(),
        },
        { requiredKeys: [] },
      ).map((o) => JSON.stringify(o))
      const body = fc.oneof(
        shaped,
        fc.json(),
        fc.string({ unit: 'binary' }),
        fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
        shaped.chain((s) => fc.nat(Math.max(0, s.length - 1)).map((cut) => s.slice(0, cut))),
      )
      await fc.assert(
        fc.asyncProperty(body, fc.option(fc.string({ minLength: 1, maxLength: 20 }).filter((k) => /^[\x21-\x7e]+$/.test(k))), async (payload, key) => {
          const res = await postObs(payload, key ? { 'idempotency-key': `${key}-${Math.random()}` } : {})
          if (res.statusCode === 201) return
          expect(res.statusCode, res.body).toBeGreaterThanOrEqual(400)
          expect(res.statusCode, res.body).toBeLessThan(500)
          expectProblem(res, res.statusCode)
        }),
        { numRuns: 300 },
      )
      expect(await api.ctx.store.repos.observations.count()).toBe(start + accepted.observations - acceptedBefore)
    })

    it('after the barrage the server still answers, and no refused request left a row behind', async () => {
      const health = await get('/api/v1/health', null)
      expect(health.statusCode).toBe(200)
      expect(health.json()).toMatchObject({ status: 'ok', database: dialect })
      // Exactly the requests that were answered 201 wrote a row (and a key, where they sent one); no refusal did.
      expect(await counts()).toEqual({ observations: before.observations + accepted.observations, keys: before.keys + accepted.keys })
      expect((await postObs(observationBody())).statusCode).toBe(201)
    })
  })
}
