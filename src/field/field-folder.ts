import { lstat, readdir, readFile, realpath, stat } from 'node:fs/promises'
import { join, sep } from 'node:path'
import {
  checkFrontMatter,
  checkNarrative,
  checkRestricted,
  FIELD_FORMAT,
  FIELD_FORMAT_VERSION,
  type FieldMedia,
  type FieldProblem,
  type FieldReport,
  type FieldRestricted,
  LIMITS,
  MARKER_FILE,
  REPORT_ID_PATTERN,
  REPORT_SUFFIX,
  REPORTS_DIR,
  RESTRICTED_SUFFIX,
  SYNC_STATE_DIR,
} from './field-format.ts'
import { parseReport } from './front-matter.ts'
import { decryptWithPassphrase, RestrictedDecryptError } from './restricted-age.ts'

export { fieldReportToObservation, type FieldMedia, type FieldObservationBody, type FieldProblem, type FieldReport, type FieldRestricted } from './field-format.ts'

/** The folder itself is unusable (missing, not a field folder, a newer format): nothing in it can be read. */
export class FieldFolderError extends Error {}

export interface ReadFieldFolderOptions {
  /** Opens each report's restricted part; without it restricted is null and hasRestricted says whether one exists. */
  passphrase?: string
  /** Media over this many bytes are refused (default LIMITS.mediaBytes). */
  maxMediaBytes?: number
}

/**
 * Reads a field folder: every report that is entirely well-formed, and the problems of those that are not.
 * A report with any problem (its front matter, its narrative, a media path that leaves the folder or names no
 * file, a restricted part that does not open) is left out whole, never half-read; the others still read.
 * Throws FieldFolderError only when the folder itself is not a field folder this code understands.
 */
export async function readFieldFolder(dir: string, options: ReadFieldFolderOptions = {}): Promise<{ reports: FieldReport[]; problems: FieldProblem[] }> {
  const root = await openFieldFolder(dir)
  const reports: FieldReport[] = []
  const problems: FieldProblem[] = []
  let entries: import('node:fs').Dirent[]
  try {
    entries = await readdir(join(root, REPORTS_DIR), { withFileTypes: true })
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { reports, problems }
    throw new FieldFolderError(`${dir}/${REPORTS_DIR}: ${(err as Error).message}`)
  }
  const names = entries.map((e) => e.name).sort()
  const present = new Set(names)
  for (const name of names) {
    const file = `${REPORTS_DIR}/${name}`
    // Dot files: the writer's temporary files, and what file managers leave behind.
    if (name.startsWith('.')) continue
    if (name.endsWith(RESTRICTED_SUFFIX)) {
      const id = name.slice(0, -RESTRICTED_SUFFIX.length)
      if (!present.has(`${id}${REPORT_SUFFIX}`)) problems.push({ file, message: `restricted part without its report (${REPORTS_DIR}/${id}${REPORT_SUFFIX} is missing)` })
      continue
    }
    if (!name.endsWith(REPORT_SUFFIX)) {
      problems.push({ file, message: `not part of a field folder: ${REPORTS_DIR}/ holds <id>${REPORT_SUFFIX} reports and their <id>${RESTRICTED_SUFFIX} files` })
      continue
    }
    const id = name.slice(0, -REPORT_SUFFIX.length)
    if (!REPORT_ID_PATTERN.test(id)) {
      problems.push({ file, message: 'a report file name is its id: letters, digits, "-" and "_", at most 120, starting with a letter or digit' })
      continue
    }
    const restrictedName = `${id}${RESTRICTED_SUFFIX}`
    let result: ReportResult
    try {
      result = await readReport(root, id, present.has(restrictedName) ? restrictedName : null, options)
    } catch (err) {
      // Changed while being read (removed, permissions): this report waits for the next read, the others go on.
      result = { problems: [{ file, message: `could not be read: ${(err as Error).message}` }] }
    }
    if ('report' in result) reports.push(result.report)
    else problems.push(...result.problems)
  }
  return { reports, problems }
}

/** The folder's real path, after checking its marker names a format and version this code reads. */
export async function openFieldFolder(dir: string): Promise<string> {
  let root: string
  try {
    root = await realpath(dir)
  } catch {
    throw new FieldFolderError(`${dir}: no such folder`)
  }
  let marker: unknown
  try {
    const path = join(root, MARKER_FILE)
    const info = await lstat(path)
    if (!info.isFile() || info.size > LIMITS.markerBytes) throw new Error('not a small regular file')
    marker = JSON.parse(await readFile(path, 'utf8'))
  } catch {
    throw new FieldFolderError(`${dir} is not a field folder (no readable ${MARKER_FILE}); make one with: louder field new ${dir}`)
  }
  const m = marker as { format?: unknown; version?: unknown } | null
  if (m?.format !== FIELD_FORMAT) throw new FieldFolderError(`${dir}/${MARKER_FILE}: format must be "${FIELD_FORMAT}"`)
  if (m.version !== FIELD_FORMAT_VERSION) throw new FieldFolderError(`${dir}/${MARKER_FILE}: version ${JSON.stringify(m.version)} is not one this Louder reads (${FIELD_FORMAT_VERSION})`)
  return root
}

type ReportResult = { report: FieldReport } | { problems: FieldProblem[] }

async function readReport(root: string, id: string, restrictedName: string | null, options: ReadFieldFolderOptions): Promise<ReportResult> {
  const file = `${REPORTS_DIR}/${id}${REPORT_SUFFIX}`
  const fail = (message: string, line?: number): ReportResult => ({ problems: [line === undefined ? { file, message } : { file, message, line }] })
  const path = join(root, file)
  const info = await lstat(path)
  if (info.isSymbolicLink()) return fail('is a symbolic link; a report must be a regular file inside the folder')
  if (!info.isFile()) return fail('is not a regular file')
  if (info.size > LIMITS.reportBytes) return fail(`is ${info.size} bytes; reports over ${LIMITS.reportBytes} bytes are refused`)
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(await readFile(path))
  } catch (err) {
    if (err instanceof TypeError) return fail('is not UTF-8 text')
    return fail(`could not be read: ${(err as Error).message}`)
  }
  text = text.replace(/^\uFEFF/, '').replace(/\r\n/g, '\n')
  const nul = text.indexOf('\u0000')
  if (nul >= 0) return fail('holds a NUL character', text.slice(0, nul).split('\n').length)

  const parsed = parseReport(text)
  if ('error' in parsed) return fail(parsed.error.message, parsed.error.line)
  const checked = checkFrontMatter(parsed.ok.data)
  const problems: FieldProblem[] = []
  const problem = (message: string, line: number | undefined) => problems.push(line === undefined ? { file, message } : { file, message, line })
  if ('errors' in checked) for (const e of checked.errors) problem(e.message, parsed.ok.lineOf(e.path))
  const narrative = checkNarrative(parsed.ok.body)
  if ('error' in narrative) problem(narrative.error, undefined)
  if ('errors' in checked || 'error' in narrative) return { problems }
  const fm = checked.ok

  const media: FieldMedia[] = []
  for (const [i, m] of fm.media.entries()) {
    const resolved = await resolveMedia(root, m.relPath, options.maxMediaBytes ?? LIMITS.mediaBytes)
    if (typeof resolved === 'string') problem(`media ${m.relPath}: ${resolved}`, parsed.ok.lineOf(['media', i]))
    else media.push({ relPath: m.relPath, path: resolved.real, caption: m.caption })
  }

  let modifiedAt = info.mtimeMs
  let restricted: FieldRestricted | null = null
  // Both say so or neither: a lost restricted file must not make a report look as if it named nobody.
  if (fm.restricted && !restrictedName) problem(`says restricted: true, but ${REPORTS_DIR}/${id}${RESTRICTED_SUFFIX} is missing`, parsed.ok.lineOf(['restricted']))
  if (!fm.restricted && restrictedName) problem(`${REPORTS_DIR}/${restrictedName} exists, but the front matter does not say restricted: true`, undefined)
  if (restrictedName && problems.length === 0) {
    const rFile = `${REPORTS_DIR}/${restrictedName}`
    const opened = await openRestricted(join(root, rFile), id, options.passphrase)
    if (typeof opened === 'string') problems.push({ file: rFile, message: opened })
    else {
      restricted = opened.restricted
      modifiedAt = Math.max(modifiedAt, opened.mtimeMs)
    }
  }
  if (problems.length) return { problems }
  return {
    report: {
      id,
      file,
      title: fm.title,
      narrative: narrative.ok,
      eventType: fm.eventType,
      parties: fm.parties,
      occurredAt: fm.occurredAt,
      location: fm.location,
      urgent: fm.urgent,
      language: fm.language,
      media,
      restricted,
      hasRestricted: restrictedName !== null,
      modifiedAt: Math.trunc(modifiedAt),
    },
  }
}

/** A media path's real location, or why it cannot be used: it must resolve (symbolic links followed) to a regular file inside the folder. */
async function resolveMedia(root: string, relPath: string, maxBytes: number): Promise<{ real: string } | string> {
  let real: string
  try {
    real = await realpath(join(root, relPath))
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOENT') return 'no such file'
    if (code === 'ELOOP') return 'is a loop of symbolic links'
    if (code === 'ENOTDIR') return 'no such file (a folder on its path is a file)'
    return `could not be resolved: ${(err as Error).message}`
  }
  if (!real.startsWith(root + sep)) return 'leaves the folder (through a symbolic link); media must lie inside the field folder'
  if (real.startsWith(join(root, SYNC_STATE_DIR) + sep)) return `resolves into ${SYNC_STATE_DIR}/, which is reserved for the sync state`
  const info = await stat(real)
  if (!info.isFile()) return 'is not a regular file'
  if (info.size === 0) return 'is empty'
  if (info.size > maxBytes) return `is ${info.size} bytes; media files over ${maxBytes} bytes are refused`
  return { real }
}

async function openRestricted(path: string, id: string, passphrase: string | undefined): Promise<{ restricted: FieldRestricted | null; mtimeMs: number } | string> {
  const info = await lstat(path)
  if (info.isSymbolicLink()) return 'is a symbolic link; a restricted part must be a regular file inside the folder'
  if (!info.isFile()) return 'is not a regular file'
  if (info.size > LIMITS.restrictedBytes) return `is ${info.size} bytes; restricted parts over ${LIMITS.restrictedBytes} bytes are refused`
  if (passphrase === undefined) return { restricted: null, mtimeMs: info.mtimeMs }
  let json: string
  try {
    json = await decryptWithPassphrase(await readFile(path), passphrase)
  } catch (err) {
    if (err instanceof RestrictedDecryptError) return err.message
    throw err
  }
  let value: unknown
  try {
    value = JSON.parse(json)
  } catch {
    return 'decrypts to something that is not JSON'
  }
  const checked = checkRestricted(value, id)
  if ('errors' in checked) return checked.errors.join('; ')
  return { restricted: checked.ok, mtimeMs: info.mtimeMs }
}
