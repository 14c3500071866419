import { describe, expect, it } from 'vitest'
import { areaOf, bboxOf, centroidOf, containsPoint, GeometryError, type MultiPolygon, parseGeometry, representativePoint, vertexBudget } from './geometry.ts'

const square = (x0: number, y0: number, x1: number, y1: number) => [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
/** A U open to the north: arms lon 0–1 and 3–4, base lat 0–1; its centroid (2, 1.5…) lies in the notch. */
const U = [[0, 0], [4, 0], [4, 4], [3, 4], [3, 1], [1, 1], [1, 4], [0, 4], [0, 0]]
const holed = parseGeometry({ type: 'Polygon', coordinates: [square(0, 0, 4, 4), square(1, 1, 3, 3).reverse()] })
const u = parseGeometry({ type: 'Polygon', coordinates: [U] })
const multi = parseGeometry({ type: 'MultiPolygon', coordinates: [[square(0, 0, 1, 1)], [square(5, 5, 7, 7)]] })
const at = (lon: number, lat: number) => ({ lon, lat })

function refusal(value: unknown, budget = vertexBudget()): { path: string; message: string } {
  try {
    parseGeometry(value, budget)
  } catch (err) {
    if (err instanceof GeometryError) return { path: err.path, message: err.message }
    throw err
  }
  throw new Error('accepted')
}

describe('parseGeometry', () => {
  it('reads Polygons and MultiPolygons as MultiPolygons, dropping altitudes', () => {
    expect(parseGeometry({ type: 'Polygon', coordinates: [[[0, 0, 5], [1, 0, 5], [1, 1, 5], [0, 0, 5]]] })).toEqual([[[[0, 0], [1, 0], [1, 1], [0, 0]]]])
    expect(multi).toHaveLength(2)
  })

  it('refuses what is not a closed ring of at least four finite positions in range, saying where', () => {
    expect(refusal({ type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, 1], [0, 1]]] })).toEqual({ path: '/coordinates/0', message: expect.stringMatching(/not closed/) })
    expect(refusal({ type: 'Polygon', coordinates: [[[0, 0], [1, 1], [0, 0]]] }).path).toBe('/coordinates/0')
    expect(refusal({ type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, Infinity], [0, 0]]] }).path).toBe('/coordinates/0/2/1')
    expect(refusal({ type: 'Polygon', coordinates: [[[0, 0], [181, 0], [1, 1], [0, 0]]] }).path).toBe('/coordinates/0/1/0')
    expect(refusal({ type: 'Polygon', coordinates: [[[0, 0], ['1', 0], [1, 1], [0, 0]]] }).path).toBe('/coordinates/0/1/0')
    expect(refusal({ type: 'Polygon', coordinates: [[[0, 0], [1, 0], [2, 0], [0, 0]]] }).message).toMatch(/no area/)
    expect(refusal({ type: 'Point', coordinates: [0, 0] }).path).toBe('/type')
    expect(refusal({ type: 'MultiPolygon', coordinates: [] }).path).toBe('/coordinates')
    expect(refusal({ type: 'Polygon', coordinates: [[[[0, 0]]]] }).path).toBe('/coordinates/0')
    expect(refusal(null).path).toBe('')
  })

  it('stops at the vertex budget shared by a whole file', () => {
    const budget = vertexBudget(12)
    parseGeometry({ type: 'Polygon', coordinates: [square(0, 0, 1, 1)] }, budget)
    parseGeometry({ type: 'Polygon', coordinates: [square(0, 0, 1, 1)] }, budget)
    expect(refusal({ type: 'Polygon', coordinates: [square(0, 0, 1, 1)] }, budget).message).toMatch(/past 12 vertices/)
  })
})

describe('containsPoint', () => {
  it('tests holes, concave shapes and every part of a MultiPolygon; borders count as inside', () => {
    expect(containsPoint(holed, at(0.5, 0.5))).toBe(true)
    expect(containsPoint(holed, at(2, 2))).toBe(false) // in the hole
    expect(containsPoint(holed, at(1, 2))).toBe(true) // on the hole's edge
    expect(containsPoint(holed, at(4, 1))).toBe(true) // on the outer edge
    expect(containsPoint(holed, at(0, 0))).toBe(true) // a vertex
    expect(containsPoint(holed, at(4.0001, 1))).toBe(false)
    expect(containsPoint(u, at(2, 3))).toBe(false) // in the notch
    expect(containsPoint(u, at(0.5, 3))).toBe(true)
    expect(containsPoint(u, at(2, 0.5))).toBe(true)
    expect(containsPoint(multi, at(6, 6))).toBe(true)
    expect(containsPoint(multi, at(3, 3))).toBe(false)
    // The ray passes exactly through vertices at the point's latitude.
    expect(containsPoint(u, at(-1, 1))).toBe(false)
    expect(containsPoint(u, at(2, 4))).toBe(false)
  })
})

describe('area, centroid and representative point', () => {
  it('measures outer rings less holes, whatever the winding', () => {
    expect(areaOf(holed)).toBe(12)
    expect(areaOf(parseGeometry({ type: 'Polygon', coordinates: [square(0, 0, 2, 2).reverse()] }))).toBe(4)
    expect(areaOf(multi)).toBe(5)
    expect(bboxOf(multi)).toEqual({ minLon: 0, minLat: 0, maxLon: 7, maxLat: 7 })
  })

  it('uses the centroid when it lies inside', () => {
    const sq = parseGeometry({ type: 'Polygon', coordinates: [square(10, 20, 12, 24)] })
    expect(centroidOf(sq)).toEqual({ lon: 11, lat: 22 })
    expect(representativePoint(sq)).toEqual({ lon: 11, lat: 22 })
    // The larger part weighs more.
    expect(centroidOf(multi)!.lon).toBeCloseTo((0.5 * 1 + 6 * 4) / 5)
  })

  it('falls back to a point strictly inside when the centroid is in a notch or a hole', () => {
    const shapes: MultiPolygon[] = [u, holed, parseGeometry({ type: 'MultiPolygon', coordinates: [[U], [square(10, 10, 10.1, 10.1)]] })]
    for (const shape of shapes) {
      const c = centroidOf(shape)!
      expect(containsPoint(shape, c)).toBe(false)
      const rep = representativePoint(shape)
      expect(containsPoint(shape, rep)).toBe(true)
      // Not on a border: a nudge in any direction stays inside.
      for (const [dx, dy] of [[1e-6, 0], [-1e-6, 0], [0, 1e-6], [0, -1e-6]]) expect(containsPoint(shape, at(rep.lon + dx!, rep.lat + dy!))).toBe(true)
    }
  })
})
