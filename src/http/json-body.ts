import { isUtf8 } from 'node:buffer'
import sjson from 'secure-json-parse'
import { ValidationError } from '../core/errors.ts'

export const MAX_JSON_DEPTH = 32

/**
 * Parses a JSON request body strictly: valid UTF-8 only (no silent U+FFFD), nesting no deeper than
 * MAX_JSON_DEPTH (a deep document is a stack-exhaustion attack, not a report), no key twice in one object, no `__proto__` or
 * `constructor.prototype` keys (prototype poisoning), and no string that cannot be stored as sent: a NUL
 * (PostgreSQL text refuses it, so it would fail there after passing on SQLite) or a lone UTF-16 surrogate
 * escape such as `\ud800` (stored as U+FFFD, so what was acknowledged would not be what was kept).
 */
export function parseJsonBody(body: Buffer): unknown {
  if (!isUtf8(body)) throw new ValidationError([{ field: '/body', message: 'is not valid UTF-8' }], 'The body is not valid UTF-8.')
  const text = body.toString('utf8')
  const { depth, duplicateKey } = scanStructure(text)
  if (depth > MAX_JSON_DEPTH)
    throw new ValidationError([{ field: '/body', message: `nests deeper than ${MAX_JSON_DEPTH} levels` }], 'The JSON document is nested too deeply.')
  if (duplicateKey !== null)
    throw new ValidationError([{ field: '/body', message: `names the key ${JSON.stringify(duplicateKey.slice(0, 100))} twice in one object` }], 'The JSON document repeats a key.')
  let value: unknown
  try {
    value = sjson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' })
  } catch (err) {
    const message = err instanceof SyntaxError ? err.message : 'contains a forbidden key (__proto__ or constructor.prototype)'
    throw new ValidationError([{ field: '/body', message }], 'The body is not valid JSON.')
  }
  const bad = unstorableString(value, '/body')
  if (bad) throw new ValidationError([bad], 'The body holds text that cannot be stored as sent.')
  return value
}

/**
 * The first string (key or value) in `value` that is not storable text (a NUL or a lone surrogate), as a
 * field error under `path`; null when all are fine. Callers bound the depth (parsed bodies, query strings).
 */
export function unstorableString(value: unknown, path: string): { field: string; message: string } | null {
  const check = (s: string, at: string) =>
    s.includes('\u0000') ? { field: at, message: 'contains a NUL character (\\u0000)' }
    : !s.isWellFormed() ? { field: at, message: 'contains a lone UTF-16 surrogate (an unpaired \\uD800–\\uDFFF escape)' }
    : null
  if (typeof value === 'string') return check(value, path)
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const bad = unstorableString(value[i], `${path}/${i}`)
      if (bad) return bad
    }
  } else if (value !== null && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      const at = `${path}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`
      const bad = check(key, at) ?? unstorableString(item, at)
      if (bad) return bad
    }
  }
  return null
}

interface Frame {
  object: boolean
  keys: Set<string>
  expectKey: boolean
}

/**
 * One pass over the text before the recursive parser sees it: the deepest bracket nesting (stopping early
 * past the limit) and the first key that appears twice in one object. JSON.parse keeps the last duplicate,
 * so `{"roles":["researcher"],"roles":["admin"]}` would pass a reviewer's eye and grant the second; such a
 * body is refused instead.
 */
function scanStructure(text: string): { depth: number; duplicateKey: string | null } {
  const stack: Frame[] = []
  let max = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === 0x22) {
      const start = i
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i)
        if (d === 0x5c) i++
        else if (d === 0x22) break
      }
      const frame = stack[stack.length - 1]
      if (frame?.object && frame.expectKey) {
        let key: string
        try {
          key = JSON.parse(text.slice(start, i + 1)) as string
        } catch {
          return { depth: max, duplicateKey: null } // the parser will name the syntax error
        }
        if (frame.keys.has(key)) return { depth: max, duplicateKey: key }
        frame.keys.add(key)
        frame.expectKey = false
      }
    } else if (c === 0x7b || c === 0x5b) {
      stack.push({ object: c === 0x7b, keys: new Set(), expectKey: c === 0x7b })
      if (stack.length > max) max = stack.length
      if (max > MAX_JSON_DEPTH) return { depth: max, duplicateKey: null }
    } else if (c === 0x7d || c === 0x5d) stack.pop()
    else if (c === 0x2c) {
      const frame = stack[stack.length - 1]
      if (frame?.object) frame.expectKey = true
    }
  }
  return { depth: max, duplicateKey: null }
}
