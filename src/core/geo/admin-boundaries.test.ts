import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ValidationError } from '../errors.ts'
import { parseBoundaries } from './admin-boundaries.ts'

const fixture = (name: string) => JSON.parse(readFileSync(join(import.meta.dirname, '..', '..', '..', 'test', 'fixtures', 'areas', name), 'utf8'))
const square = [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]
const feature = (properties: unknown, geometry: unknown = { type: 'Polygon', coordinates: square }) => ({ type: 'Feature', properties, geometry })
const fc = (...features: unknown[]) => ({ type: 'FeatureCollection', features })

function fieldOf(fn: () => unknown): string {
  try {
    fn()
  } catch (err) {
    if (err instanceof ValidationError) return err.errors.map((e) => e.field).join(',')
    throw err
  }
  throw new Error('accepted')
}

describe('parseBoundaries', () => {
  it('reads COD-AB ADM1 and ADM2 files, names in English first, the ADM2 parent from ADM1_PCODE', () => {
    const adm1 = parseBoundaries(fixture('arcadia-adm1.cod-ab.geojson'))
    expect(adm1.map((a) => [a.level, a.pcode, a.name, a.parentPcode])).toEqual([[1, 'XA01', 'North', null], [1, 'XA02', 'South', null]])
    const adm2 = parseBoundaries(fixture('arcadia-adm2.cod-ab.geojson'))
    expect(adm2.map((a) => [a.level, a.pcode, a.name, a.parentPcode])).toEqual([
      [2, 'XA0101', 'Hollow', 'XA01'],
      [2, 'XA0102', 'Horseshoe', 'XA01'],
      [2, 'XA0201', 'Lowland', 'XA02'],
      [2, 'XA0202', 'Islands', 'XA02'],
    ])
    // French where there is no English.
    expect(parseBoundaries(fc(feature({ ADM1_FR: 'Nord', ADM1_PCODE: 'XA01' })))[0]!.name).toBe('Nord')
    // Level 1 asked of an ADM2 file takes each feature's ADM1 code: repeated, so refused at the second.
    expect(fieldOf(() => parseBoundaries(fixture('arcadia-adm2.cod-ab.geojson'), { level: 1 }))).toBe('/features/1/properties')
  })

  it('reads geoBoundaries files: shapeID, shapeName, the level from shapeType, no parent', () => {
    const adm2 = parseBoundaries(fixture('borduria-adm2.geoboundaries.geojson'))
    expect(adm2[3]).toMatchObject({ level: 2, pcode: 'XBB-ADM2-3', name: 'Upper Islands', parentPcode: null, areaDeg2: 2.5 })
    expect(adm2[3]!.geometry).toHaveLength(2)
    expect(fieldOf(() => parseBoundaries(fixture('borduria-adm2.geoboundaries.geojson'), { level: 1 }))).toBe('/features/0/properties/shapeType')
    expect(fieldOf(() => parseBoundaries(fc(feature({ shapeID: 'X-1', shapeName: 'X', shapeType: 'ADM3' }))))).toBe('/features/0/properties/shapeType')
    expect(parseBoundaries(fc(feature({ shapeID: 'X-1', shapeName: 'X', shapeType: 'ADM3' })), { level: 2 })[0]!.level).toBe(2)
  })

  it('refuses the whole file at the first bad feature, naming it by index', () => {
    const good = feature({ ADM1_EN: 'A', ADM1_PCODE: 'A1' })
    expect(fieldOf(() => parseBoundaries({ type: 'Feature' }))).toBe('/type')
    expect(fieldOf(() => parseBoundaries(fc()))).toBe('/features')
    expect(fieldOf(() => parseBoundaries(fc(good, feature({ ADM1_EN: 'B', ADM1_PCODE: 'B1' }, { type: 'Polygon', coordinates: [square[0]!.slice(0, 4)] }))))).toBe('/features/1/geometry/coordinates/0')
    expect(fieldOf(() => parseBoundaries(fc(good, { type: 'Feature', properties: null, geometry: null })))).toBe('/features/1/properties')
    expect(fieldOf(() => parseBoundaries(fc(good, feature({ ADM1_EN: 'B', ADM1_PCODE: 'B 1' }))))).toBe('/features/1/properties/ADM1_PCODE')
    expect(fieldOf(() => parseBoundaries(fc(good, feature({ ADM1_EN: ' ', ADM1_PCODE: 'B1' }))))).toBe('/features/1/properties/ADM1_EN')
    expect(fieldOf(() => parseBoundaries(fc(good, feature({ ADM1_EN: 'B\u0007', ADM1_PCODE: 'B1' }))))).toBe('/features/1/properties/ADM1_EN')
    expect(fieldOf(() => parseBoundaries(fc(good, feature({ name: 'B' }))))).toBe('/features/1/properties')
    expect(fieldOf(() => parseBoundaries(fc(good, feature({ ADM3_PCODE: 'C1', ADM3_EN: 'C', ADM2_PCODE: 'B1', ADM1_PCODE: 'A1' }))))).toBe('/features/1/properties/ADM3_PCODE')
    expect(fieldOf(() => parseBoundaries(fc(good, good)))).toBe('/features/1/properties')
    expect(fieldOf(() => parseBoundaries(fc(feature({ ADM1_EN: 'B', ADM1_PCODE: 'B1' }, null)), {}, '/body'))).toBe('/body/features/0/geometry')
  })
})
