/**
 * Administrative boundaries as humanitarian offices publish them, read into our areas. Two forms:
 *
 * - OCHA COD-AB (Common Operational Datasets, Administrative Boundaries): one file per level, each feature
 *   with `ADM1_PCODE` and `ADM1_EN` (or `_FR`, `_ES`, `_PT`, `_AR`, `_RU`, `_ZH`) and, for ADM2,
 *   `ADM2_PCODE`/`ADM2_EN`, its parent being `ADM1_PCODE`;
 * - geoBoundaries: `shapeID`, `shapeName`, `shapeType` ("ADM1", "ADM2") and `shapeGroup` (ISO 3166
 *   alpha-3). No parent is given; the import finds an ADM2's parent from where it lies.
 *
 * The level comes from the caller or from the feature: COD-AB's deepest ADMn_PCODE, geoBoundaries' shapeType.
 * Pure: no I/O. Every refusal names the feature by its index, so a 4,000-feature file can be fixed.
 */
import { ValidationError } from '../errors.ts'
import { areaOf, bboxOf, type BBox, GeometryError, type LatLon, type MultiPolygon, parseGeometry, representativePoint, vertexBudget } from './geometry.ts'

export type AreaLevel = 1 | 2
export const AREA_LEVELS: readonly AreaLevel[] = [1, 2]
export const MAX_AREA_NAME = 200
/** Far more than any country has ADM2 units (Brazil's ~5,600 municipalities, India's ~750 districts). */
export const MAX_FEATURES = 50_000
/** Pcodes are short codes (`SO1101`, `AFG-ADM2-3_0_0-B12`); this keeps them a key, not a payload. */
const PCODE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/
const NAME_LANGUAGES = ['EN', 'FR', 'ES', 'PT', 'AR', 'RU', 'ZH'] as const

/** One area read from a file, its geometry checked and measured. */
export interface ParsedArea {
  level: AreaLevel
  pcode: string
  name: string
  parentPcode: string | null
  geometry: MultiPolygon
  bbox: BBox
  /** A point strictly inside the area (representativePoint): what a generalised location shows. */
  rep: LatLon
  areaDeg2: number
}

export interface ParseOptions {
  /** The level of every feature; detected per feature when absent. */
  level?: AreaLevel
}

const refuse = (field: string, message: string): never => {
  throw new ValidationError([{ field, message }], 'The boundary file is not valid; nothing was imported.')
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Refuses the whole file at the first bad feature: a half-imported set of districts is worse than none. */
export function parseBoundaries(value: unknown, opts: ParseOptions = {}, base = ''): ParsedArea[] {
  if (!isObject(value) || value.type !== 'FeatureCollection') return refuse(`${base}/type`, 'must be a GeoJSON FeatureCollection')
  const features = value.features
  if (!Array.isArray(features) || features.length === 0) return refuse(`${base}/features`, 'must be a non-empty array of features')
  if (features.length > MAX_FEATURES) return refuse(`${base}/features`, `holds more than ${MAX_FEATURES} features`)
  const budget = vertexBudget()
  const seen = new Map<string, number>()
  return features.map((feature, i) => {
    const at = `${base}/features/${i}`
    const area = parseFeature(feature, opts, at, budget)
    const first = seen.get(area.pcode)
    if (first !== undefined) refuse(`${at}/properties`, `repeats the pcode ${area.pcode} of feature ${first}`)
    seen.set(area.pcode, i)
    return area
  })
}

function parseFeature(feature: unknown, opts: ParseOptions, at: string, budget: ReturnType<typeof vertexBudget>): ParsedArea {
  if (!isObject(feature) || feature.type !== 'Feature') return refuse(`${at}/type`, 'must be a GeoJSON Feature')
  if (!isObject(feature.properties)) return refuse(`${at}/properties`, 'must be an object')
  const labels = readLabels(feature.properties, opts.level, `${at}/properties`)
  let geometry: MultiPolygon
  try {
    geometry = parseGeometry(feature.geometry, budget)
  } catch (err) {
    if (err instanceof GeometryError) return refuse(`${at}/geometry${err.path}`, err.message)
    throw err
  }
  return { ...labels, geometry, bbox: bboxOf(geometry), rep: representativePoint(geometry), areaDeg2: areaOf(geometry) }
}

function readLabels(p: Record<string, unknown>, level: AreaLevel | undefined, at: string): Pick<ParsedArea, 'level' | 'pcode' | 'name' | 'parentPcode'> {
  if ('shapeID' in p || 'shapeType' in p) {
    const type = p.shapeType
    const detected = type === 'ADM1' ? 1 : type === 'ADM2' ? 2 : null
    if (detected === null && level === undefined) return refuse(`${at}/shapeType`, 'must be ADM1 or ADM2 (or give the level)')
    if (detected !== null && level !== undefined && detected !== level) return refuse(`${at}/shapeType`, `is ${String(type)}, but level ${level} was asked for`)
    return { level: (level ?? detected)!, pcode: pcodeOf(p.shapeID, `${at}/shapeID`), name: nameOf(p.shapeName, `${at}/shapeName`), parentPcode: null }
  }
  const deepest = [3, 2, 1].find((n) => p[`ADM${n}_PCODE`] !== undefined && p[`ADM${n}_PCODE`] !== null)
  if (deepest === undefined) return refuse(at, 'has neither COD-AB (ADM1_PCODE, ADM2_PCODE) nor geoBoundaries (shapeID, shapeType) properties')
  const n = level ?? deepest
  if (n > 2) return refuse(`${at}/ADM${n}_PCODE`, 'names an ADM3 area; only ADM1 and ADM2 are imported (give --level to take a coarser one)')
  const key = NAME_LANGUAGES.map((l) => `ADM${n}_${l}`).find((k) => typeof p[k] === 'string' && (p[k] as string).trim() !== '') ?? `ADM${n}_EN`
  return {
    level: n as AreaLevel,
    pcode: pcodeOf(p[`ADM${n}_PCODE`], `${at}/ADM${n}_PCODE`),
    name: nameOf(p[key], `${at}/${key}`),
    parentPcode: n === 2 ? pcodeOf(p.ADM1_PCODE, `${at}/ADM1_PCODE`) : null,
  }
}

function pcodeOf(v: unknown, field: string): string {
  if (typeof v !== 'string' || !PCODE.test(v)) return refuse(field, 'must be a code of 1–64 letters, digits, dots, dashes or underscores')
  return v
}

function nameOf(v: unknown, field: string): string {
  const name = typeof v === 'string' ? v.trim().replace(/\s+/g, ' ') : ''
  if (name.length === 0 || name.length > MAX_AREA_NAME) return refuse(field, `must be a name of 1–${MAX_AREA_NAME} characters`)
  if (/\p{Cc}/u.test(name)) return refuse(field, 'contains a control character')
  return name
}
