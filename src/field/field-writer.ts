import { randomBytes } from 'node:crypto'
import { constants } from 'node:fs'
import { copyFile, mkdir, open, readdir, realpath, rename, rm, stat } from 'node:fs/promises'
import { basename, join, relative, sep } from 'node:path'
import {
  checkFrontMatter,
  checkNarrative,
  checkRestricted,
  FIELD_FORMAT,
  FIELD_FORMAT_VERSION,
  type FieldWitness,
  LIMITS,
  MARKER_FILE,
  MEDIA_DIR,
  parseOccurredAt,
  REPORT_SUFFIX,
  REPORTS_DIR,
  RESTRICTED_SUFFIX,
  type RestrictedFile,
} from './field-format.ts'
import { FieldFolderError, openFieldFolder } from './field-folder.ts'
import { parseReport, renderFrontMatter } from './front-matter.ts'
import { DEFAULT_SCRYPT_WORK_FACTOR, encryptWithPassphrase } from './restricted-age.ts'

/** Something about a new report is wrong; nothing was written. Each line names one thing. */
export class FieldInputError extends Error {}

const README = `This is a Louder field folder (format ${FIELD_FORMAT}, version ${FIELD_FORMAT_VERSION}).

  ${MARKER_FILE}           marks the folder; do not edit
  reports/<id>.md             one report: YAML front matter, then the narrative in Markdown
  reports/<id>.restricted.age notes and witnesses of that report, encrypted with a passphrase (age)
  media/                      photos and videos the reports name (paths relative to this folder)
  .louder/                    kept by \`louder sync\`: what was sent; do not edit

Add a report with:
  louder field add DIR --title "…" --narrative-file story.md --at "2024-05-01 14:30 +03:00" \\
    --lat 15.6 --lon 32.5 --media photo.jpg [--notes-file notes.txt --witness "name|contact|witness"]

or by hand, as reports/2024-05-01-market.md:

  ---
  title: Shelling near the central market
  occurred_at: 2024-05-01T14:30:00+03:00
  event_type: Explosions/Remote violence
  parties: [Armed group X]
  location: { lat: 15.6, lon: 32.5, accuracy: 30 }
  urgent: true
  language: en
  media:
    - path: media/market-1.jpg
      caption: The crater, looking north
  ---
  What was seen, by whom, when.

Never write witness names, contacts or private notes in a report file: they belong only in the encrypted
restricted file, which \`louder field add\` writes. The format: docs/field-folder.md in Louder's sources.
`

/** Makes `dir` a field folder: refuses a non-empty folder that is not one; an existing field folder is left as it is. */
export async function createFieldFolder(dir: string): Promise<{ created: boolean }> {
  let existing: string[] | null = null
  try {
    existing = await readdir(dir)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOTDIR') throw new FieldFolderError(`${dir} is a file, not a folder`)
    if (code !== 'ENOENT') throw err
  }
  if (existing?.includes(MARKER_FILE)) {
    await openFieldFolder(dir)
    await mkdir(join(dir, REPORTS_DIR), { recursive: true, mode: 0o700 })
    await mkdir(join(dir, MEDIA_DIR), { recursive: true, mode: 0o700 })
    return { created: false }
  }
  if (existing && existing.length > 0) throw new FieldFolderError(`${dir} is not empty and not a field folder; choose an empty or new folder`)
  await mkdir(dir, { recursive: true, mode: 0o700 })
  await mkdir(join(dir, REPORTS_DIR), { mode: 0o700 })
  await mkdir(join(dir, MEDIA_DIR), { mode: 0o700 })
  await writeDurably(join(dir, 'README.txt'), README)
  // Last: a folder with its marker is complete.
  await writeDurably(join(dir, MARKER_FILE), `${JSON.stringify({ format: FIELD_FORMAT, version: FIELD_FORMAT_VERSION })}\n`)
  await syncDir(dir)
  return { created: true }
}

export interface NewFieldReport {
  title: string
  narrative: string
  /** As the front matter takes it: RFC 3339, or `YYYY-MM-DD HH:MM` with an offset. */
  occurredAt: string
  eventType?: string | null
  parties?: string[]
  location?: { lat: number; lon: number; accuracy?: number | null } | null
  urgent?: boolean
  language?: string | null
  /** Files on this machine; copied into media/<id>/ unless they already lie inside the folder. */
  media?: { file: string; caption?: string | null }[]
  restricted?: { notes?: string | null; witnesses?: FieldWitness[] } | null
}

export interface AddReportOptions {
  /** Needed when the report has notes or witnesses: they are written only encrypted with it. */
  passphrase?: string
  scryptWorkFactor?: number
  maxMediaBytes?: number
}

/**
 * Adds a report: checks everything first (front matter, narrative, media, restricted part), then copies the
 * media, writes the restricted part encrypted, and writes the report file last, each through a temporary file,
 * fsync and rename. Until the report file appears nothing of it is read, and a failure removes what was written.
 */
export async function addFieldReport(dir: string, input: NewFieldReport, options: AddReportOptions = {}): Promise<{ id: string; file: string }> {
  const root = await openFieldFolder(dir)
  const errors: string[] = []

  const when = parseOccurredAt(input.occurredAt)
  const id = reportId(typeof when === 'number' ? when : Date.now(), input.title)

  // Where each medium will be named from the report: its own path when already in the folder, else a copy.
  const copies: { from: string; to: string }[] = []
  const mediaEntries: { path: string; caption?: string }[] = []
  const taken = new Set<string>()
  for (const m of input.media ?? []) {
    let real: string
    try {
      real = await realpath(m.file)
      const info = await stat(real)
      if (!info.isFile()) throw new Error('is not a regular file')
      if (info.size === 0) throw new Error('is empty')
      const max = options.maxMediaBytes ?? LIMITS.mediaBytes
      if (info.size > max) throw new Error(`is ${info.size} bytes; media files over ${max} bytes are refused`)
    } catch (err) {
      errors.push(`${m.file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`)
      continue
    }
    let rel: string
    if (real.startsWith(root + sep)) rel = relative(root, real).split(sep).join('/')
    else {
      const name = safeName(basename(real))
      rel = `${MEDIA_DIR}/${id}/${name}`
      for (let n = 2; taken.has(rel); n++) rel = `${MEDIA_DIR}/${id}/${n}-${name}`
      copies.push({ from: real, to: rel })
    }
    taken.add(rel)
    mediaEntries.push(m.caption ? { path: rel, caption: m.caption } : { path: rel })
  }

  const front: Record<string, unknown> = { title: input.title, occurred_at: input.occurredAt }
  if (input.eventType) front.event_type = input.eventType
  if (input.parties?.length) front.parties = input.parties
  if (input.location) front.location = input.location.accuracy == null ? { lat: input.location.lat, lon: input.location.lon } : { ...input.location }
  if (input.urgent) front.urgent = true
  if (input.language) front.language = input.language
  if (mediaEntries.length) front.media = mediaEntries
  const r = input.restricted
  const hasRestricted = !!r && (!!r.notes || (r.witnesses?.length ?? 0) > 0)
  if (hasRestricted) front.restricted = true
  const narrative = input.narrative.trim()
  const text = `${renderFrontMatter(front)}\n${narrative}\n`
  // Checked as the reader will read it, so what is written always reads back.
  const parsed = parseReport(text)
  if ('error' in parsed) errors.push(parsed.error.message)
  else {
    const checked = checkFrontMatter(parsed.ok.data)
    if ('errors' in checked) errors.push(...checked.errors.map((e) => e.message))
    const n = checkNarrative(parsed.ok.body)
    if ('error' in n) errors.push(n.error)
  }
  if (Buffer.byteLength(text) > LIMITS.reportBytes) errors.push(`the report would be ${Buffer.byteLength(text)} bytes; at most ${LIMITS.reportBytes}`)

  let restrictedJson: string | null = null
  if (r && hasRestricted) {
    const file: RestrictedFile = { format: 'louder-field-restricted', version: 1, report: id, notes: r.notes || null, witnesses: r.witnesses ?? [] }
    const checked = checkRestricted(file, id)
    if ('errors' in checked) errors.push(...checked.errors.map((e) => `restricted part: ${e}`))
    if (!options.passphrase) errors.push('notes and witnesses are written only encrypted: give a passphrase (--passphrase-file FILE or LOUDER_FIELD_PASSPHRASE)')
    restrictedJson = JSON.stringify(file)
    if (Buffer.byteLength(restrictedJson) > LIMITS.restrictedBytes - 4096) errors.push('the restricted part is too large')
  }
  if (errors.length) throw new FieldInputError(errors.join('\n'))

  const written: string[] = []
  const reportFile = `${REPORTS_DIR}/${id}${REPORT_SUFFIX}`
  try {
    if (copies.length) {
      await mkdir(join(root, MEDIA_DIR, id), { recursive: true, mode: 0o700 })
      written.push(join(root, MEDIA_DIR, id))
      for (const c of copies) {
        await copyFile(c.from, join(root, c.to), constants.COPYFILE_EXCL)
        await fsyncFile(join(root, c.to))
      }
      await syncDir(join(root, MEDIA_DIR, id))
    }
    if (restrictedJson !== null) {
      const sealed = await encryptWithPassphrase(restrictedJson, options.passphrase!, options.scryptWorkFactor ?? DEFAULT_SCRYPT_WORK_FACTOR)
      const target = join(root, REPORTS_DIR, `${id}${RESTRICTED_SUFFIX}`)
      written.push(target)
      await writeDurably(target, sealed)
    }
    await writeDurably(join(root, reportFile), text)
    await syncDir(join(root, REPORTS_DIR))
  } catch (err) {
    for (const path of written.reverse()) await rm(path, { recursive: true, force: true })
    throw err
  }
  return { id, file: reportFile }
}

/** `20240501-1430-shelling-near-the-market-3fa9c2`: sorts by time, says what it is, and two never clash. */
function reportId(ms: number, title: string): string {
  const iso = new Date(ms).toISOString()
  const stamp = `${iso.slice(0, 10).replaceAll('-', '')}-${iso.slice(11, 16).replace(':', '')}`
  const slug = title
    .normalize('NFKD')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 40)
    .replace(/-+$/, '')
  return `${stamp}-${slug || 'report'}-${randomBytes(3).toString('hex')}`
}

/** A copied file's name, kept readable but safe as a media path segment. */
function safeName(name: string): string {
  const cleaned = name.replace(/[\\\u0000-\u001f/]/g, '_').slice(-120)
  return cleaned === '.' || cleaned === '..' || cleaned === '' ? 'media' : cleaned
}

/** Temporary file beside the target, fsync, rename: the target name never holds half a file. */
async function writeDurably(target: string, data: string | Uint8Array): Promise<void> {
  const tmp = join(target, '..', `.${basename(target)}.${randomBytes(4).toString('hex')}.tmp`)
  const handle = await open(tmp, 'wx', 0o600)
  try {
    await handle.writeFile(data)
    await handle.sync()
    await handle.close()
    await rename(tmp, target)
  } catch (err) {
    await handle.close().catch(() => {})
    await rm(tmp, { force: true })
    throw err
  }
}

async function fsyncFile(path: string): Promise<void> {
  const handle = await open(path, 'r')
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

async function syncDir(path: string): Promise<void> {
  const handle = await open(path, 'r')
  try {
    await handle.sync()
  } catch {
    // Some file systems (FAT on a USB stick) cannot sync a directory; the files themselves were synced.
  } finally {
    await handle.close()
  }
}
