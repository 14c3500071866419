/**
 * BagIt 1.0 (RFC 8493) text formats, with no I/O: the bag declaration, tag files, manifests and the paths
 * they name. The validator (src/court/bagit-validate.ts) and the writer (src/court/bag-writer.ts) share these,
 * so what Louder writes is exactly what it accepts.
 */

/** One thing wrong with a bag: the file it is in, the step that found it, and what is wrong, for a person. */
export interface BagProblem {
  file: string
  step: string
  message: string
}

/** Algorithms a manifest may name that Node's crypto can compute (RFC 8493 §2.4: lower-case names). */
export const MANIFEST_ALGORITHMS = ['md5', 'sha1', 'sha224', 'sha256', 'sha384', 'sha512'] as const
export type ManifestAlgorithm = (typeof MANIFEST_ALGORITHMS)[number]
export const DIGEST_HEX_LENGTH: Record<ManifestAlgorithm, number> = { md5: 32, sha1: 40, sha224: 56, sha256: 64, sha384: 96, sha512: 128 }

/** `manifest-<alg>.txt` / `tagmanifest-<alg>.txt` → the algorithm name, else null. */
export function manifestAlgorithm(name: string, kind: 'manifest' | 'tagmanifest'): string | null {
  const m = new RegExp(`^${kind}-([a-z0-9]+)\\.txt$`).exec(name)
  return m ? m[1]! : null
}

export function isSupportedAlgorithm(alg: string): alg is ManifestAlgorithm {
  return (MANIFEST_ALGORITHMS as readonly string[]).includes(alg)
}

/** RFC 8493 §2.1.1 and §2.2.2 allow LF, CR LF or CR to end a line in a tag file. */
export function splitLines(text: string): string[] {
  const lines = text.split(/\r\n|\r|\n/)
  if (lines.at(-1) === '') lines.pop()
  return lines
}

/**
 * RFC 8493 §2.1.1: exactly two lines, `BagIt-Version: M.N` and `Tag-File-Character-Encoding: ENC`. The label
 * and colon are not separated by whitespace and one space follows the colon (the conformance suite's
 * `bagit-with-invalid-whitespace` bag is refused for `BagIt-Version : 1.0`). A BOM is not allowed.
 */
export function parseBagDeclaration(bytes: Buffer): { version: string; encoding: string } | { error: string } {
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) return { error: 'starts with a byte order mark, which RFC 8493 §2.1.1 forbids' }
  const lines = splitLines(bytes.toString('utf8'))
  if (lines.length !== 2) return { error: `has ${lines.length} lines; a bag declaration has exactly two` }
  const version = /^BagIt-Version: ([0-9]+\.[0-9]+)$/.exec(lines[0]!)
  if (!version) return { error: `first line ${JSON.stringify(lines[0])} is not "BagIt-Version: M.N"` }
  const encoding = /^Tag-File-Character-Encoding: (\S+)$/.exec(lines[1]!)
  if (!encoding) return { error: `second line ${JSON.stringify(lines[1])} is not "Tag-File-Character-Encoding: ENCODING"` }
  if (encoding[1]!.toUpperCase() !== 'UTF-8') return { error: `tag files are in ${encoding[1]}; only UTF-8 is supported` }
  return { version: version[1]!, encoding: encoding[1]! }
}

export const BAG_DECLARATION = 'BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n'

/**
 * RFC 8493 §2.2.2 tag files (bag-info.txt): `Label: value` lines; a line starting with whitespace continues
 * the previous value. Labels carry no leading or trailing whitespace; a label may repeat.
 */
export function parseTagFile(text: string): { tags: [string, string][] } | { error: string } {
  const tags: [string, string][] = []
  for (const [i, line] of splitLines(text).entries()) {
    if (/^[ \t]/.test(line)) {
      const last = tags.at(-1)
      if (!last) return { error: `line ${i + 1} continues a value, but no tag came before it` }
      last[1] += ` ${line.trim()}`
      continue
    }
    const m = /^([^:\s](?:[^:]*[^:\s])?):[ \t]*(.*)$/.exec(line)
    if (!m) return { error: `line ${i + 1} ${JSON.stringify(line.slice(0, 80))} is not "Label: value"` }
    tags.push([m[1]!, m[2]!])
  }
  return { tags }
}

/** A tag value (bag-info.txt): one line, no control characters, so a tag cannot forge another. */
export function tagLine(label: string, value: string): string {
  if (!/^[A-Za-z0-9-]+$/.test(label)) throw new TypeError(`bad tag label ${label}`)
  return `${label}: ${value.replace(/[\x00-\x1f\x7f]+/g, ' ').trim()}\n`
}

/** RFC 8493 §2.2.2 Payload-Oxum: `<octets>.<files>`. */
export function parsePayloadOxum(value: string): { octets: bigint; files: bigint } | null {
  const m = /^([0-9]+)\.([0-9]+)$/.exec(value.trim())
  return m ? { octets: BigInt(m[1]!), files: BigInt(m[2]!) } : null
}

/**
 * RFC 8493 §2.1.3: in a manifest, CR, LF and % in a file path are written %0D, %0A and %25; nothing else is
 * decoded (a path holding "%41" names a file called "%41").
 */
export function encodeManifestPath(path: string): string {
  return path.replace(/%/g, '%25').replace(/\n/g, '%0A').replace(/\r/g, '%0D')
}

export function decodeManifestPath(path: string): string {
  return path.replace(/%(0A|0a|0D|0d|25)/g, (_, code: string) => (code === '25' ? '%' : code.toUpperCase() === '0A' ? '\n' : '\r'))
}

/**
 * Whether a manifest path stays inside the bag (RFC 8493 §2.1.3 and §4: a manifest must not be a way to
 * read or vouch for a file outside it): relative, slash-separated, no empty, `.` or `..` segment, no
 * backslash (a separator on Windows) and no NUL.
 */
export function unsafePathReason(path: string): string | null {
  if (path.length === 0) return 'is empty'
  if (path.startsWith('/') || /^[A-Za-z]:/.test(path)) return 'is absolute'
  if (path.includes('\\')) return 'contains a backslash'
  if (path.includes('\0')) return 'contains a NUL character'
  const segments = path.split('/')
  if (segments.includes('..')) return 'climbs out of its directory with ".."'
  if (segments.some((s) => s === '' || s === '.')) return 'has an empty or "." segment'
  return null
}

export interface ManifestEntry {
  digest: string
  path: string
}

/**
 * RFC 8493 §2.1.3 manifest lines: `<checksum> <filepath>`, separated by one or more spaces or tabs (the
 * conformance suite's bags use two, as sha256sum writes them). Every problem is reported, each with its line.
 */
export function parseManifest(text: string, alg: ManifestAlgorithm): { entries: ManifestEntry[]; errors: string[] } {
  const entries: ManifestEntry[] = []
  const errors: string[] = []
  const seen = new Set<string>()
  const hexLength = DIGEST_HEX_LENGTH[alg]
  for (const [i, line] of splitLines(text).entries()) {
    const m = /^([0-9A-Fa-f]+)[ \t]+(.+)$/.exec(line)
    if (!m) {
      errors.push(`line ${i + 1} is not "<checksum> <path>"`)
      continue
    }
    if (m[1]!.length !== hexLength) {
      errors.push(`line ${i + 1}: a ${alg} checksum has ${hexLength} hex digits, not ${m[1]!.length}`)
      continue
    }
    const path = decodeManifestPath(m[2]!)
    const unsafe = unsafePathReason(path)
    if (unsafe) {
      errors.push(`line ${i + 1}: path ${JSON.stringify(path)} ${unsafe}`)
      continue
    }
    if (seen.has(path)) {
      errors.push(`line ${i + 1}: ${JSON.stringify(path)} is listed twice`)
      continue
    }
    seen.add(path)
    entries.push({ digest: m[1]!.toLowerCase(), path })
  }
  return { entries, errors }
}

/** Manifest text, sorted by path so the same bag always writes the same bytes. */
export function renderManifest(entries: readonly ManifestEntry[]): string {
  return [...entries]
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
    .map((e) => `${e.digest}  ${encodeManifestPath(e.path)}\n`)
    .join('')
}
