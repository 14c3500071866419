import { STATUS_CODES } from 'node:http'
import { type TObject, type TProperties, type TSchema, Type } from '@sinclair/typebox'
import { ValidationError } from '../../core/errors.ts'
import { MAX_PAGE_SIZE, DEFAULT_PAGE_SIZE } from '../../core/pagination.ts'

/** An object schema that refuses unknown fields: a typo in a field name is an error, not silently dropped data. */
export function Strict<T extends TProperties>(properties: T, options: { description?: string; $id?: string; title?: string } = {}): TObject<T> {
  return Type.Object(properties, { additionalProperties: false, ...options })
}

export const Uuid = Type.String({ format: 'uuid', description: 'UUIDv7 record id' })
export const Timestamp = Type.String({ format: 'date-time', description: 'RFC 3339 UTC time' })

/**
 * A `Timestamp` that passed the schema, as epoch ms. The schema's date-time format also lets through what no
 * JavaScript time can hold (a leap second, 23:59:60) and offsets RFC 3339 does not allow (`+05`), which
 * Date.parse turns into NaN: refuse those here as bad input instead of failing on a NaN later.
 */
export function parseTimestamp(value: string, field: string): number {
  const ms = Date.parse(value)
  if (Number.isNaN(ms))
    throw new ValidationError([{ field, message: 'must be an RFC 3339 time such as 2024-05-01T12:00:00Z (leap seconds cannot be stored)' }])
  return ms
}

/** RFC 9457 problem details, with `errors` for validation failures. */
export const Problem = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    detail: Type.Optional(Type.String()),
    code: Type.String({ description: 'stable machine-readable error code' }),
    errors: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }))),
    current: Type.Optional(Type.Unknown({ description: 'on 409 version_conflict: the record as it is now, to reapply a change on' })),
    lock: Type.Optional(Type.Unknown({ description: 'on 409 locked: who holds the edit lock and until when' })),
  },
  { title: 'Problem' },
)

/**
 * The common responses every route can give, so OpenAPI documents them and clients can rely on the shape.
 * They are documented (and serialised) under the media type they are sent with, application/problem+json.
 */
export function problemResponses(...statuses: number[]): Record<number, { description: string; content: { 'application/problem+json': { schema: TSchema } } }> {
  return Object.fromEntries(statuses.map((s) => [s, { description: `Problem (RFC 9457): ${STATUS_CODES[s] ?? 'error'}`, content: { 'application/problem+json': { schema: Problem } } }]))
}

export const PageQuery = {
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE })),
  cursor: Type.Optional(Type.String({ maxLength: 512, description: 'the `next` value of the previous page' })),
}

export function PageOf<T extends TSchema>(item: T) {
  return Type.Object({ items: Type.Array(item), next: Type.Union([Type.String(), Type.Null()]) })
}

/** Marks a field as restricted (witness identities, exact sensitive coordinates, …): clients, tests and audits find them from the schema alone. */
export function Restricted<T extends TSchema>(schema: T): T {
  return { ...schema, 'x-restricted': true }
}

export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({ minLength: 1, maxLength: 255, pattern: '^[\\x21-\\x7e]+$', description: 'IETF Idempotency-Key: retries with the same key and body replay the first response' }),
  ),
})
