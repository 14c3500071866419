/**
 * Administrative-area geometry, pure: GeoJSON Polygon and MultiPolygon (RFC 7946 §3.1.6–3.1.7) parsed and
 * checked, point-in-polygon, area and a representative point. Planar arithmetic on lon/lat degrees: good
 * enough to tell which district a point lies in and to pick a point inside it, not to measure land.
 *
 * Out of scope: polygons crossing the antimeridian (RFC 7946 §3.1.9 cuts them in two; a ring spanning
 * ±180° is read as going the long way round), and checking that holes lie inside their outer ring or that
 * rings do not cross themselves (published boundaries are assumed topologically sane; a bad one gives odd
 * answers for its own area, never for another's).
 */

/** [lon, lat], as GeoJSON orders them. */
export type Position = readonly [number, number]
export type Ring = readonly Position[]
/** The outer ring first, then holes. */
export type Polygon = readonly Ring[]
/** A Polygon is read as a MultiPolygon of one. */
export type MultiPolygon = readonly Polygon[]

export interface BBox {
  minLon: number
  minLat: number
  maxLon: number
  maxLat: number
}

export interface LatLon {
  lat: number
  lon: number
}

/** Why a geometry was refused, and where inside it (`/coordinates/0/3`), for the caller to prefix. */
export class GeometryError extends Error {
  readonly path: string
  constructor(path: string, message: string) {
    super(message)
    this.path = path
  }
}

/** A file of a country's ADM2 polygons from COD-AB runs to a few hundred thousand vertices. */
export const MAX_VERTICES = 1_000_000

/** Counts the vertices one import has parsed, so a whole file stays under a single budget. */
export interface VertexBudget {
  used: number
  readonly max: number
}

export const vertexBudget = (max = MAX_VERTICES): VertexBudget => ({ used: 0, max })

/**
 * Checks a GeoJSON geometry object and returns it as a MultiPolygon. The nesting of `coordinates` is
 * fixed by the type, and each level is checked to be an array before it is walked, so no input recurses.
 */
export function parseGeometry(value: unknown, budget: VertexBudget = vertexBudget()): MultiPolygon {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new GeometryError('', 'must be a GeoJSON geometry object')
  const { type, coordinates } = value as { type?: unknown; coordinates?: unknown }
  if (type === 'Polygon') return [parsePolygon(coordinates, '/coordinates', budget)]
  if (type === 'MultiPolygon') {
    if (!Array.isArray(coordinates) || coordinates.length === 0) throw new GeometryError('/coordinates', 'must be a non-empty array of polygons')
    return coordinates.map((p, i) => parsePolygon(p, `/coordinates/${i}`, budget))
  }
  throw new GeometryError('/type', `must be Polygon or MultiPolygon, not ${typeof type === 'string' ? type.slice(0, 40) : typeof type}`)
}

function parsePolygon(value: unknown, path: string, budget: VertexBudget): Polygon {
  if (!Array.isArray(value) || value.length === 0) throw new GeometryError(path, 'must be a non-empty array of linear rings')
  const rings = value.map((r, i) => parseRing(r, `${path}/${i}`, budget))
  if (ringArea(rings[0]!) === 0) throw new GeometryError(`${path}/0`, 'encloses no area')
  return rings
}

function parseRing(value: unknown, path: string, budget: VertexBudget): Ring {
  if (!Array.isArray(value)) throw new GeometryError(path, 'must be an array of positions')
  if (value.length < 4) throw new GeometryError(path, 'must have at least 4 positions (a closed triangle)')
  budget.used += value.length
  if (budget.used > budget.max) throw new GeometryError(path, `takes the file past ${budget.max} vertices`)
  const ring = value.map((p, i) => parsePosition(p, `${path}/${i}`))
  const [first, last] = [ring[0]!, ring[ring.length - 1]!]
  if (first[0] !== last[0] || first[1] !== last[1]) throw new GeometryError(path, 'is not closed: its last position must repeat its first')
  return ring
}

function parsePosition(value: unknown, path: string): Position {
  // A third number (altitude) is allowed by RFC 7946 §3.1.1 and ignored.
  if (!Array.isArray(value) || value.length < 2 || value.length > 3) throw new GeometryError(path, 'must be a position [longitude, latitude]')
  const [lon, lat] = value as unknown[]
  // JSON has no NaN or Infinity, but 1e999 parses to Infinity: finiteness is checked, not assumed.
  if (typeof lon !== 'number' || !Number.isFinite(lon) || lon < -180 || lon > 180) throw new GeometryError(`${path}/0`, 'longitude must be a number from -180 to 180')
  if (typeof lat !== 'number' || !Number.isFinite(lat) || lat < -90 || lat > 90) throw new GeometryError(`${path}/1`, 'latitude must be a number from -90 to 90')
  if (value.length === 3 && (typeof value[2] !== 'number' || !Number.isFinite(value[2]))) throw new GeometryError(`${path}/2`, 'altitude must be a finite number')
  return [lon, lat]
}

export function bboxOf(geometry: MultiPolygon): BBox {
  const box = { minLon: Infinity, minLat: Infinity, maxLon: -Infinity, maxLat: -Infinity }
  for (const polygon of geometry) {
    for (const [lon, lat] of polygon[0]!) {
      if (lon < box.minLon) box.minLon = lon
      if (lon > box.maxLon) box.maxLon = lon
      if (lat < box.minLat) box.minLat = lat
      if (lat > box.maxLat) box.maxLat = lat
    }
  }
  return box
}

const inBox = (b: BBox, lon: number, lat: number) => lon >= b.minLon && lon <= b.maxLon && lat >= b.minLat && lat <= b.maxLat

/** Signed shoelace area in square degrees (positive when counter-clockwise). */
function signedArea(ring: Ring): number {
  let sum = 0
  for (let i = 0; i < ring.length - 1; i++) {
    const [x1, y1] = ring[i]!
    const [x2, y2] = ring[i + 1]!
    sum += x1 * y2 - x2 * y1
  }
  return sum / 2
}

const ringArea = (ring: Ring) => Math.abs(signedArea(ring))

/** Square degrees: outer rings less their holes. */
export function areaOf(geometry: MultiPolygon): number {
  let total = 0
  for (const polygon of geometry) total += polygonArea(polygon)
  return total
}

const polygonArea = (polygon: Polygon) => polygon.reduce((sum, ring, i) => sum + (i === 0 ? ringArea(ring) : -ringArea(ring)), 0)

/** On the segment a–b, to within rounding: a point on a shared border belongs to both areas. */
function onSegment(px: number, py: number, [ax, ay]: Position, [bx, by]: Position): boolean {
  if (px < Math.min(ax, bx) || px > Math.max(ax, bx) || py < Math.min(ay, by) || py > Math.max(ay, by)) return false
  const cross = (bx - ax) * (py - ay) - (by - ay) * (px - ax)
  const scale = Math.abs(bx - ax) + Math.abs(by - ay)
  return Math.abs(cross) <= 1e-12 * Math.max(scale, 1)
}

/** Even-odd ray casting over every ring of the polygon (so a hole's inside is outside); edges count as inside. */
function inPolygon(polygon: Polygon, lon: number, lat: number): boolean {
  let inside = false
  for (const ring of polygon) {
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const a = ring[i]!
      const b = ring[j]!
      if (onSegment(lon, lat, a, b)) return true
      if (a[1] > lat !== b[1] > lat && lon < ((b[0] - a[0]) * (lat - a[1])) / (b[1] - a[1]) + a[0]) inside = !inside
    }
  }
  return inside
}

/** Whether the point lies in the area, on its border included. `bbox` skips the ring walk for most areas. */
export function containsPoint(geometry: MultiPolygon, point: LatLon, bbox: BBox = bboxOf(geometry)): boolean {
  if (!inBox(bbox, point.lon, point.lat)) return false
  return geometry.some((polygon) => inPolygon(polygon, point.lon, point.lat))
}

/** Strictly inside: inside and on no edge. */
function strictlyInside(geometry: MultiPolygon, lon: number, lat: number): boolean {
  for (const polygon of geometry) for (const ring of polygon) for (let i = 0; i < ring.length - 1; i++) if (onSegment(lon, lat, ring[i]!, ring[i + 1]!)) return false
  return containsPoint(geometry, { lon, lat })
}

/** The area-weighted centroid (holes subtract), or null for a geometry with no area. */
export function centroidOf(geometry: MultiPolygon): LatLon | null {
  let a = 0
  let cx = 0
  let cy = 0
  for (const polygon of geometry) {
    polygon.forEach((ring, r) => {
      // Each ring's contribution with its sign forced: outer rings add, holes subtract, whatever their winding.
      const s = signedArea(ring)
      if (s === 0) return
      const sign = (r === 0 ? 1 : -1) * Math.sign(s)
      let rx = 0
      let ry = 0
      for (let i = 0; i < ring.length - 1; i++) {
        const [x1, y1] = ring[i]!
        const [x2, y2] = ring[i + 1]!
        const f = x1 * y2 - x2 * y1
        rx += (x1 + x2) * f
        ry += (y1 + y2) * f
      }
      // rx / (6 s) is the ring's centroid; weighted by |s| with the sign above.
      a += sign * s
      cx += (sign * rx) / 6
      cy += (sign * ry) / 6
    })
  }
  if (a <= 0) return null
  return { lon: cx / a, lat: cy / a }
}

/**
 * A point inside the area to stand for it: the centroid when that lies strictly inside, otherwise (a
 * crescent, a U, a ring-shaped district around an enclave) a point on the surface: on the horizontal line
 * through the largest polygon nearest the centroid's latitude that passes no vertex, the middle of the
 * widest stretch inside. Always inside, never on a border, so it names exactly one area of its level.
 */
export function representativePoint(geometry: MultiPolygon): LatLon {
  const centroid = centroidOf(geometry)
  if (centroid && strictlyInside(geometry, centroid.lon, centroid.lat)) return centroid
  const largest = geometry.reduce((best, p) => (polygonArea(p) > polygonArea(best) ? p : best))
  const ys = [...new Set(largest.flatMap((ring) => ring.map((p) => p[1])))].sort((x, y) => x - y)
  const target = centroid?.lat ?? (ys[0]! + ys[ys.length - 1]!) / 2
  // Lines halfway between consecutive vertex latitudes never touch a vertex, so every crossing is clean.
  const lines = ys
    .slice(1)
    .map((y, i) => (ys[i]! + y) / 2)
    .sort((p, q) => Math.abs(p - target) - Math.abs(q - target))
  let best: { lat: number; lon: number; width: number } | null = null
  for (const lat of lines.slice(0, 8)) {
    const xs: number[] = []
    for (const ring of largest) {
      for (let i = 0; i < ring.length - 1; i++) {
        const [ax, ay] = ring[i]!
        const [bx, by] = ring[i + 1]!
        if (ay > lat !== by > lat) xs.push(ax + ((lat - ay) * (bx - ax)) / (by - ay))
      }
    }
    xs.sort((p, q) => p - q)
    for (let i = 0; i + 1 < xs.length; i += 2) {
      const width = xs[i + 1]! - xs[i]!
      if (!best || width > best.width) best = { lat, lon: (xs[i]! + xs[i + 1]!) / 2, width }
    }
    if (best && best.width > 0) break
  }
  // parsePolygon refuses outer rings without area, so a line crosses; the fallback is for the type checker.
  return best ? { lat: best.lat, lon: best.lon } : { lat: largest[0]![0]![1], lon: largest[0]![0]![0] }
}
