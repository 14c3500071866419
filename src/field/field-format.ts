import { OBSERVATION_PARTIES_MAX, OBSERVATION_PARTY_NAME_MAX, OBSERVATION_TITLE_MAX, WITNESS_ROLES, type WitnessRole } from '../core/observations/observation.ts'
import { EVENT_TYPE_NAMES, type EventType, isEventType } from '../core/register/acled.ts'
import { toRfc3339 } from '../core/time.ts'

/**
 * The field folder, version 1 (docs/field-folder.md, docs/field-folder.schema.json): what a researcher keeps
 * offline and `louder sync` sends. This file holds the format's names, limits and checks, without I/O, so the
 * reader, the writer and the test that holds them to the JSON Schema share one definition.
 */
export const FIELD_FORMAT = 'louder-field'
export const FIELD_FORMAT_VERSION = 1
export const MARKER_FILE = 'louder-field.json'
export const REPORTS_DIR = 'reports'
export const MEDIA_DIR = 'media'
/** Reserved for `louder sync`'s own state (the outbox); never a report's media. */
export const SYNC_STATE_DIR = '.louder'
export const REPORT_SUFFIX = '.md'
export const RESTRICTED_SUFFIX = '.restricted.age'

/** A report's id is its file name without `.md`: stable across edits, safe in any file system and URL. */
export const REPORT_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,119}$/

export const LIMITS = {
  /** A report file (front matter and narrative): far above the 20 000-character narrative, far below harm. */
  reportBytes: 256 * 1024,
  frontMatterBytes: 64 * 1024,
  restrictedBytes: 1024 * 1024,
  markerBytes: 4 * 1024,
  /** Each alias costs at least one, and more the larger what it points at (the `yaml` package's count). */
  yamlAliases: 16,
  narrativeChars: 20_000,
  captionChars: 2_000,
  mediaPathChars: 1_000,
  mediaPerReport: 1_000,
  /** The server's default limit on one resumable upload (LOUDER_UPLOAD_MAX_BYTES); readers may pass the server's own. */
  mediaBytes: 4 * 1024 ** 3,
  notesChars: 20_000,
  witnesses: 200,
} as const

export interface FieldMedia {
  /** As written in the report: relative to the folder, `/`-separated. */
  relPath: string
  /** Absolute, after resolving symbolic links, and checked to lie inside the folder. */
  path: string
  caption: string | null
}

export interface FieldWitness {
  name: string
  contact: string | null
  role: WitnessRole
  consent: { publication: boolean; partners: boolean; court: boolean } | null
}

export interface FieldRestricted {
  notes: string | null
  witnesses: FieldWitness[]
}

export interface FieldReport {
  /** From the report's file name (`reports/<id>.md`): stable, so a resend is recognised as the same report. */
  id: string
  /** Relative to the folder. */
  file: string
  title: string
  narrative: string
  eventType: EventType | null
  parties: string[]
  /** RFC 3339, UTC. */
  occurredAt: string
  location: { lat: number; lon: number; accuracy: number | null } | null
  urgent: boolean
  language: string | null
  media: FieldMedia[]
  /** Decrypted only when a passphrase was given; otherwise null, with `hasRestricted` saying whether there is one. */
  restricted: FieldRestricted | null
  hasRestricted: boolean
  /** The latest modification time (epoch ms) of the report file and its restricted file. */
  modifiedAt: number
}

export interface FieldProblem {
  /** Relative to the folder. */
  file: string
  message: string
  line?: number
}

/** The body of POST /api/v1/observations (and of a sync batch's `observation` item) a report becomes. */
export interface FieldObservationBody {
  narrative: string
  occurredAt: string
  location: { lat: number; lon: number } | null
  urgent: boolean
  language: string | null
  /** SHA-256 hex digests: left empty here; `louder sync` fills it once the media are acknowledged. */
  media: string[]
  restricted: FieldRestricted | null
  title: string
  eventType: EventType | null
  parties: string[]
}

/** What a report becomes on the server. The location's accuracy stays in the folder: observations have none. */
export function fieldReportToObservation(report: FieldReport): FieldObservationBody {
  return {
    narrative: report.narrative,
    occurredAt: report.occurredAt,
    location: report.location ? { lat: report.location.lat, lon: report.location.lon } : null,
    urgent: report.urgent,
    language: report.language,
    media: [],
    restricted: report.restricted ? { notes: report.restricted.notes, witnesses: report.restricted.witnesses.map((w) => ({ ...w, consent: w.consent ? { ...w.consent } : null })) } : null,
    title: report.title,
    eventType: report.eventType,
    parties: [...report.parties],
  }
}

/** One thing wrong with a value, at a path of keys and indexes into it (the reader turns the path into a line). */
export interface FormatError {
  path: (string | number)[]
  message: string
}

/** The front matter as checked: what the reader builds a report from, before media paths are resolved. */
export interface CheckedFrontMatter {
  title: string
  occurredAt: string
  eventType: EventType | null
  parties: string[]
  location: { lat: number; lon: number; accuracy: number | null } | null
  urgent: boolean
  language: string | null
  media: { relPath: string; caption: string | null }[]
  /** The report says it has an encrypted restricted part: a missing file is then an error, not an absence. */
  restricted: boolean
}

export const FRONT_MATTER_KEYS = ['title', 'occurred_at', 'event_type', 'parties', 'location', 'urgent', 'language', 'media', 'restricted'] as const

export const LANGUAGE_PATTERN = /^[a-z]{2,3}(-[A-Z][a-z]{3})?(-([A-Z]{2}|[0-9]{3}))?$/
/**
 * RFC 3339 (`2024-05-01T14:30:00Z`, `…+03:00`), or the same with a space for the `T` and without seconds
 * (`2024-05-01 14:30 +03:00`); the offset is never optional, since a time without one means a different
 * instant on every device. The JSON Schema carries the same pattern.
 */
export const OCCURRED_AT_PATTERN = /^((?:19|2[01])\d\d)-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[T ]([01]\d|2[0-3]):([0-5]\d)(?::([0-5]\d)(\.\d{1,9})?)? ?(Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)$/
/**
 * Relative (no leading `/`, no drive letter), `/`-separated, no empty, `.` or `..` segment, not in `.louder/`,
 * no backslash or NUL. The JSON Schema carries the same pattern.
 */
export const MEDIA_PATH_PATTERN = /^(?!\/)(?![A-Za-z]:)(?!\.louder(?:\/|$))(?!.*\/\/)(?!.*\/$)(?!(?:.*\/)?\.\.?(?:\/|$))[^\\\u0000]+$/

const EARLIEST = Date.UTC(1900, 0, 1)
const LATEST = Date.UTC(2200, 0, 1)

/** The instant a report's `occurred_at` names, as epoch ms, or a message saying why it names none. */
export function parseOccurredAt(value: string): number | string {
  const m = OCCURRED_AT_PATTERN.exec(value)
  if (!m) return 'must be a time with its offset: 2024-05-01T14:30:00+03:00 (RFC 3339) or 2024-05-01 14:30 +03:00'
  const [, y, mo, d, h, mi, s, frac, offset] = m
  const day = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)))
  if (day.getUTCDate() !== Number(d)) return `names a day that does not exist (${y}-${mo}-${d})`
  const ms = Date.parse(`${y}-${mo}-${d}T${h}:${mi}:${s ?? '00'}${frac ? frac.slice(0, 4) : ''}${offset}`)
  if (!Number.isFinite(ms)) return 'is not a time JavaScript can hold'
  if (ms < EARLIEST || ms >= LATEST) return 'must be between 1900-01-01 and 2199-12-31'
  return ms
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)
const isFiniteNumber = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)

function unknownKeys(value: Record<string, unknown>, known: readonly string[], at: (string | number)[]): FormatError[] {
  return Object.keys(value)
    .filter((k) => !known.includes(k))
    .map((k) => ({ path: [...at, k], message: `unknown key "${k}" (allowed: ${known.join(', ')})` }))
}

/** Characters as JSON Schema (and the API's validation) count them: code points, so an emoji is one. */
export function characters(value: string): number {
  let n = 0
  for (const _ of value) n++
  return n
}

function text(value: unknown, at: (string | number)[], name: string, min: number, max: number, errors: FormatError[]): value is string {
  if (typeof value !== 'string') errors.push({ path: at, message: `${name} must be text` })
  else if (characters(value) < min) errors.push({ path: at, message: `${name} must not be empty` })
  else if (characters(value) > max) errors.push({ path: at, message: `${name} is ${characters(value)} characters; at most ${max}` })
  else if (value.includes('\u0000')) errors.push({ path: at, message: `${name} holds a NUL character` })
  else return true
  return false
}

/**
 * Checks a parsed front matter (the JSON Schema's rules, plus what a schema cannot say: the day exists, the
 * time lies in 1900–2199, no media path twice). Returns every error at once, so a researcher fixes all in one go.
 */
export function checkFrontMatter(value: unknown): { ok: CheckedFrontMatter } | { errors: FormatError[] } {
  if (!isObject(value)) return { errors: [{ path: [], message: 'the front matter must be a mapping of keys (title: …, occurred_at: …)' }] }
  const errors: FormatError[] = unknownKeys(value, FRONT_MATTER_KEYS, [])

  let title = ''
  if (!('title' in value)) errors.push({ path: [], message: 'title is missing' })
  else if (text(value.title, ['title'], 'title', 1, OBSERVATION_TITLE_MAX, errors)) title = value.title

  let occurredAt = ''
  if (!('occurred_at' in value)) errors.push({ path: [], message: 'occurred_at is missing (when it happened, with its offset: 2024-05-01T14:30:00+03:00)' })
  else if (typeof value.occurred_at !== 'string') errors.push({ path: ['occurred_at'], message: 'occurred_at must be text: 2024-05-01T14:30:00+03:00' })
  else {
    const ms = parseOccurredAt(value.occurred_at)
    if (typeof ms === 'string') errors.push({ path: ['occurred_at'], message: `occurred_at ${ms}` })
    else occurredAt = toRfc3339(ms)
  }

  let eventType: EventType | null = null
  if (value.event_type !== undefined && value.event_type !== null) {
    if (typeof value.event_type === 'string' && isEventType(value.event_type)) eventType = value.event_type
    else errors.push({ path: ['event_type'], message: `event_type must be one of ACLED's event types: ${EVENT_TYPE_NAMES.join(', ')}` })
  }

  const parties: string[] = []
  if (value.parties !== undefined && value.parties !== null) {
    if (!Array.isArray(value.parties)) errors.push({ path: ['parties'], message: 'parties must be a list of names' })
    else if (value.parties.length > OBSERVATION_PARTIES_MAX) errors.push({ path: ['parties'], message: `parties names ${value.parties.length}; at most ${OBSERVATION_PARTIES_MAX}` })
    else value.parties.forEach((p, i) => text(p, ['parties', i], `party ${i + 1}`, 1, OBSERVATION_PARTY_NAME_MAX, errors) && parties.push(p))
  }

  let location: CheckedFrontMatter['location'] = null
  if (value.location !== undefined && value.location !== null) {
    const l = value.location
    if (!isObject(l)) errors.push({ path: ['location'], message: 'location must be a mapping: { lat: 15.6, lon: 32.5, accuracy: 20 }' })
    else {
      const before = errors.length
      errors.push(...unknownKeys(l, ['lat', 'lon', 'accuracy'], ['location']))
      if (!isFiniteNumber(l.lat) || l.lat < -90 || l.lat > 90) errors.push({ path: ['location', 'lat'], message: 'location.lat must be a number from -90 to 90 (degrees, WGS 84)' })
      if (!isFiniteNumber(l.lon) || l.lon < -180 || l.lon > 180) errors.push({ path: ['location', 'lon'], message: 'location.lon must be a number from -180 to 180 (degrees, WGS 84)' })
      if (l.accuracy !== undefined && l.accuracy !== null && (!isFiniteNumber(l.accuracy) || l.accuracy < 0 || l.accuracy > 1_000_000))
        errors.push({ path: ['location', 'accuracy'], message: 'location.accuracy must be a number of metres from 0 to 1000000' })
      if (errors.length === before) location = { lat: l.lat as number, lon: l.lon as number, accuracy: (l.accuracy as number | null | undefined) ?? null }
    }
  }

  let urgent = false
  if (value.urgent !== undefined && value.urgent !== null) {
    if (typeof value.urgent === 'boolean') urgent = value.urgent
    else errors.push({ path: ['urgent'], message: 'urgent must be true or false' })
  }

  let restricted = false
  if (value.restricted !== undefined && value.restricted !== null) {
    if (typeof value.restricted === 'boolean') restricted = value.restricted
    else errors.push({ path: ['restricted'], message: `restricted must be true or false (true: notes and witnesses are in the encrypted ${RESTRICTED_SUFFIX} file)` })
  }

  let language: string | null = null
  if (value.language !== undefined && value.language !== null) {
    if (typeof value.language === 'string' && LANGUAGE_PATTERN.test(value.language)) language = value.language
    else errors.push({ path: ['language'], message: 'language must be a BCP 47 tag: language, optional script and region (fr, ar-SD, zh-Hant-TW)' })
  }

  const media: CheckedFrontMatter['media'] = []
  if (value.media !== undefined && value.media !== null) {
    if (!Array.isArray(value.media)) errors.push({ path: ['media'], message: 'media must be a list of paths (or of { path, caption })' })
    else if (value.media.length > LIMITS.mediaPerReport) errors.push({ path: ['media'], message: `media lists ${value.media.length} files; at most ${LIMITS.mediaPerReport}` })
    else {
      const seen = new Set<string>()
      value.media.forEach((item, i) => {
        const entry: Record<string, unknown> = isObject(item) ? item : { path: item }
        if (isObject(item)) errors.push(...unknownKeys(item, ['path', 'caption'], ['media', i]))
        const at = isObject(item) ? ['media', i, 'path'] : ['media', i]
        let relPath: string | null = null
        if (text(entry.path, at, `media ${i + 1}'s path`, 1, LIMITS.mediaPathChars, errors)) {
          const p = entry.path as string
          if (p.startsWith('/') || /^[A-Za-z]:/.test(p)) errors.push({ path: at, message: `media path ${JSON.stringify(p)} is absolute; media paths are relative to the folder (media/photo.jpg)` })
          else if (p === SYNC_STATE_DIR || p.startsWith(`${SYNC_STATE_DIR}/`)) errors.push({ path: at, message: `media path ${JSON.stringify(p)} is inside ${SYNC_STATE_DIR}/, which is reserved for the sync state` })
          else if (!MEDIA_PATH_PATTERN.test(p)) errors.push({ path: at, message: `media path ${JSON.stringify(p)} may not hold "..", ".", empty segments or backslashes: media paths stay inside the folder` })
          else if (seen.has(p)) errors.push({ path: at, message: `media path ${JSON.stringify(p)} is listed twice` })
          else {
            seen.add(p)
            relPath = p
          }
        }
        let caption: string | null = null
        if (entry.caption !== undefined && entry.caption !== null && text(entry.caption, ['media', i, 'caption'], `media ${i + 1}'s caption`, 0, LIMITS.captionChars, errors)) caption = entry.caption as string
        if (relPath !== null) media.push({ relPath, caption })
      })
    }
  }

  if (errors.length) return { errors }
  return { ok: { title, occurredAt, eventType, parties, location, urgent, language, media, restricted } }
}

/** The narrative is the Markdown body: blank lines around it do not count. */
export function checkNarrative(body: string): { ok: string } | { error: string } {
  const narrative = body.trim()
  if (!narrative) return { error: 'the report has no narrative: write it below the front matter' }
  if (characters(narrative) > LIMITS.narrativeChars) return { error: `the narrative is ${characters(narrative)} characters; at most ${LIMITS.narrativeChars}` }
  return { ok: narrative }
}

/** What the encrypted restricted file holds, in clear only inside its encryption. */
export interface RestrictedFile extends FieldRestricted {
  format: 'louder-field-restricted'
  version: 1
  /** The report it belongs to: a restricted file renamed to sit beside another report does not open as that one's. */
  report: string
}

/** Checks decrypted restricted JSON as the API's restricted input would, and that it belongs to `reportId`. */
export function checkRestricted(value: unknown, reportId: string): { ok: FieldRestricted } | { errors: string[] } {
  if (!isObject(value) || value.format !== 'louder-field-restricted' || value.version !== 1) return { errors: ['is not a Louder field restricted file (format louder-field-restricted, version 1)'] }
  if (value.report !== reportId) return { errors: [`belongs to report ${JSON.stringify(value.report)}, not ${JSON.stringify(reportId)}`] }
  const errs: FormatError[] = unknownKeys(value, ['format', 'version', 'report', 'notes', 'witnesses'], [])
  let notes: string | null = null
  if (value.notes !== undefined && value.notes !== null && text(value.notes, ['notes'], 'notes', 0, LIMITS.notesChars, errs)) notes = (value.notes as string) || null
  const witnesses: FieldWitness[] = []
  if (value.witnesses !== undefined) {
    if (!Array.isArray(value.witnesses) || value.witnesses.length > LIMITS.witnesses) errs.push({ path: ['witnesses'], message: `witnesses must be a list of at most ${LIMITS.witnesses}` })
    else
      value.witnesses.forEach((w, i) => {
        if (!isObject(w)) return void errs.push({ path: ['witnesses', i], message: `witness ${i + 1} must be an object` })
        const before = errs.length
        errs.push(...unknownKeys(w, ['name', 'contact', 'role', 'consent'], ['witnesses', i]))
        text(w.name, ['witnesses', i, 'name'], `witness ${i + 1}'s name`, 1, 500, errs)
        if (w.contact !== undefined && w.contact !== null) text(w.contact, ['witnesses', i, 'contact'], `witness ${i + 1}'s contact`, 0, 1_000, errs)
        if (!(WITNESS_ROLES as readonly unknown[]).includes(w.role)) errs.push({ path: ['witnesses', i, 'role'], message: `witness ${i + 1}'s role must be one of ${WITNESS_ROLES.join(', ')}` })
        const c = w.consent
        const consentOk = c === undefined || c === null || (isObject(c) && Object.keys(c).length === 3 && [c.publication, c.partners, c.court].every((b) => typeof b === 'boolean'))
        if (!consentOk) errs.push({ path: ['witnesses', i, 'consent'], message: `witness ${i + 1}'s consent must be null or { publication, partners, court } of true/false` })
        if (errs.length === before)
          witnesses.push({
            name: w.name as string,
            contact: (w.contact as string | null | undefined) ?? null,
            role: w.role as WitnessRole,
            consent: isObject(c) ? { publication: c.publication as boolean, partners: c.partners as boolean, court: c.court as boolean } : null,
          })
      })
  }
  if (errs.length) return { errors: errs.map((e) => e.message) }
  return { ok: { notes, witnesses } }
}
