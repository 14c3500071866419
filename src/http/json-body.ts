import { isUtf8 } from 'node:buffer'
import sjson from 'secure-json-parse'
import { ValidationError } from '../core/errors.ts'

export const MAX_JSON_DEPTH = 32

/**
 * Parses a JSON request body strictly: valid UTF-8 only (no silent U+FFFD), nesting no deeper than
 * MAX_JSON_DEPTH (a deep document is a stack-exhaustion attack, not a report), and no `__proto__` or
 * `constructor.prototype` keys (prototype poisoning).
 */
export function parseJsonBody(body: Buffer): unknown {
  if (!isUtf8(body)) throw new ValidationError([{ field: '/body', message: 'is not valid UTF-8' }], 'The body is not valid UTF-8.')
  const text = body.toString('utf8')
  const depth = maxDepth(text)
  if (depth > MAX_JSON_DEPTH)
    throw new ValidationError([{ field: '/body', message: `nests deeper than ${MAX_JSON_DEPTH} levels` }], 'The JSON document is nested too deeply.')
  try {
    return sjson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' })
  } catch (err) {
    const message = err instanceof SyntaxError ? err.message : 'contains a forbidden key (__proto__ or constructor.prototype)'
    throw new ValidationError([{ field: '/body', message }], 'The body is not valid JSON.')
  }
}

/** Deepest bracket nesting outside strings; cheap, and it runs before the recursive parser does. */
function maxDepth(text: string): number {
  let depth = 0
  let max = 0
  let inString = false
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i++
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) max = depth
      if (max > MAX_JSON_DEPTH) return max
    } else if (c === 0x7d || c === 0x5d) depth--
  }
  return max
}
