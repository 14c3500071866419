import { type DocumentOptions, isMap, isNode, isScalar, isSeq, LineCounter, type ParseOptions, parseDocument, type SchemaOptions, stringify, visit } from 'yaml'
import { LIMITS } from './field-format.ts'

/**
 * A report file's YAML front matter, read safely: the `yaml` package is imported only here
 * (test/architecture.test.ts). YAML 1.2's core schema (strings, numbers, booleans, null; a timestamp stays
 * text, so nothing turns into a Date behind the format's back), no tags at all (`!!js/function`, `!!binary`,
 * `!custom`: refused, not resolved), a key at most once, aliases bounded (an alias bomb is refused before it
 * is expanded), and a size limit before any parsing.
 */

export interface FrontMatterError {
  message: string
  /** 1-based line in the report file. */
  line?: number
}

export interface ParsedReport {
  /** The front matter as plain data. */
  data: unknown
  /** The Markdown below the front matter. */
  body: string
  /** The report file's line for a path into `data` (the key's line, else the nearest enclosing one's). */
  lineOf(path: readonly (string | number)[]): number | undefined
}

const YAML_OPTIONS: ParseOptions & DocumentOptions & SchemaOptions = {
  version: '1.2',
  schema: 'core',
  customTags: [],
  merge: false,
  uniqueKeys: true,
  strict: true,
  // Computes each error's line (linePos); the message's appended excerpt is cut off below.
  prettyErrors: true,
}

/**
 * Splits a report file (already decoded, CRLF already turned to LF) into front matter and body, and parses the
 * front matter. The file must open with a line `---` and the front matter end at the next `---` (or `...`).
 */
export function parseReport(text: string): { ok: ParsedReport } | { error: FrontMatterError } {
  if (!text.startsWith('---\n')) return { error: { message: 'a report must start with a line "---" opening its YAML front matter', line: 1 } }
  const end = /^(?:---|\.\.\.)[ \t]*$/m
  const rest = text.slice(4)
  const close = end.exec(rest)
  if (!close) return { error: { message: 'the front matter is never closed: end it with a line "---" before the narrative', line: 1 } }
  const yamlText = rest.slice(0, close.index)
  if (Buffer.byteLength(yamlText) > LIMITS.frontMatterBytes) return { error: { message: `the front matter is over ${LIMITS.frontMatterBytes} bytes`, line: 1 } }
  const body = rest.slice(close.index + close[0].length).replace(/^\n/, '')
  // Lines in the YAML are one below the file's: line 1 is the opening `---`.
  const counter = new LineCounter()
  const fileLine = (offset: number) => counter.linePos(offset).line + 1
  const doc = parseDocument(yamlText, { ...YAML_OPTIONS, lineCounter: counter })
  const first = doc.errors[0] ?? doc.warnings[0]
  if (first) {
    const line = first.linePos ? first.linePos[0].line + 1 : undefined
    const text = first.message.split(' at line ')[0]!
    // Under strict parsing a tag the schema does not know is an error; say what is wrong in the format's terms.
    if (first.code === 'TAG_RESOLVE_FAILED') return { error: { message: `YAML tags (${text.replace(/^Unresolved tag: /, '')}) are not allowed in a report`, line } }
    return { error: { message: `the front matter is not valid YAML: ${text}`, line } }
  }

  let refused: FrontMatterError | null = null
  visit(doc, {
    Node(_key, node) {
      if (!node.tag) return undefined
      refused = { message: `YAML tags (${node.tag}) are not allowed in a report`, line: node.range ? fileLine(node.range[0]) : undefined }
      return visit.BREAK
    },
  })
  if (refused) return { error: refused }

  let data: unknown
  try {
    data = doc.toJS({ maxAliasCount: LIMITS.yamlAliases })
  } catch (err) {
    // Alias expansion over the limit (a "billion laughs") ends here, before the data is built.
    let line: number | undefined
    visit(doc, {
      Alias(_key, node) {
        line = node.range ? fileLine(node.range[0]) : undefined
        return visit.BREAK
      },
    })
    return { error: { message: `the front matter uses aliases beyond the limit (${LIMITS.yamlAliases}): ${(err as Error).message}`, line } }
  }
  if (data === null || data === undefined) data = {}

  const lineOf = (path: readonly (string | number)[]) => {
    const offset = offsetOf(doc.contents, path)
    return offset === undefined ? undefined : fileLine(offset)
  }
  return { ok: { data, body, lineOf } }
}

/** Where `path` is written: the offset of its mapping key (or list item), else of the nearest enclosing one. */
function offsetOf(root: unknown, path: readonly (string | number)[]): number | undefined {
  let node = root
  let best = isNode(root) ? root.range?.[0] : undefined
  for (const step of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(step))
      if (!pair) break
      best = (isNode(pair.key) ? pair.key.range?.[0] : undefined) ?? best
      node = pair.value
    } else if (isSeq(node) && typeof step === 'number') {
      const item = node.items[step]
      if (!isNode(item)) break
      best = item.range?.[0] ?? best
      node = item
    } else break
  }
  return best
}

/** Front matter for a report the writer made: plain YAML of the given data, keys in the order given. */
export function renderFrontMatter(data: Record<string, unknown>): string {
  return `---\n${stringify(data, { version: '1.2', schema: 'core', lineWidth: 0, aliasDuplicateObjects: false })}---\n`
}
