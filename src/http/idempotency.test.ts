import type { FastifyReply, FastifyRequest } from 'fastify'
import { describe, expect, it } from 'vitest'
import { ConflictError } from '../core/errors.ts'
import type { Store } from '../core/ports/repositories.ts'
import type { Sealer } from '../core/ports/sealer.ts'
import { idempotentWrite } from './idempotency.ts'

/** What a database says when its unique index stops a second insert that passed the use case's own check. */
const uniqueViolation = Object.assign(new Error('duplicate key value violates unique constraint "orgs_name_key"'), { code: '23505' })

function deps(fail: unknown) {
  const store = { transaction: async () => Promise.reject(fail), repos: { idempotency: { find: async () => null } } } as unknown as Store
  return { store, isUniqueViolation: (err: unknown) => err === uniqueViolation, sealer: {} as Sealer }
}

function request(headers: Record<string, string> = {}) {
  const req = { headers, method: 'POST', url: '/api/v1/orgs', routeOptions: { url: '/api/v1/orgs', config: {} }, params: {}, body: { name: 'x' }, actor: { kind: 'anonymous' } } as unknown as FastifyRequest
  const reply = { code: () => reply, header: () => reply } as unknown as FastifyReply
  return { req, reply }
}

describe('idempotentWrite and unique indexes', () => {
  it.each([[{}], [{ 'idempotency-key': 'k1' }]])('turns a unique violation that is no replay into a 409 conflict (headers %j)', async (headers) => {
    const { req, reply } = request(headers)
    const error = await idempotentWrite(deps(uniqueViolation), req, reply, 201, async () => ({})).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ConflictError)
    expect((error as ConflictError).code).toBe('already_exists')
  })

  it('lets other errors through as they are', async () => {
    const { req, reply } = request()
    const other = new Error('disk full')
    await expect(idempotentWrite(deps(other), req, reply, 201, async () => ({}))).rejects.toBe(other)
  })
})
