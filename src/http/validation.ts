import { Ajv } from 'ajv'
import addFormatsModule from 'ajv-formats'
import type { FastifySchemaCompiler } from 'fastify'

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv

function makeAjv(coerceTypes: boolean | 'array'): Ajv {
  const ajv = new Ajv({ allErrors: true, coerceTypes, useDefaults: true, removeAdditional: false, strict: false })
  addFormats(ajv)
  ajv.addKeyword({ keyword: 'x-restricted', schemaType: 'boolean' })
  return ajv
}

/**
 * Bodies are validated as sent: a string where a number belongs is an error, not coerced. Query
 * strings and path parameters arrive as text, so they are coerced to the declared types.
 */
export function validatorCompiler(): FastifySchemaCompiler<unknown> {
  const strict = makeAjv(false)
  const coercing = makeAjv('array')
  return ({ schema, httpPart }) => (httpPart === 'body' ? strict : coercing).compile(schema as object) as ReturnType<FastifySchemaCompiler<unknown>>
}
