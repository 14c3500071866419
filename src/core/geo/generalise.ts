import type { AreaLevel } from './admin-boundaries.ts'
import type { LatLon } from './geometry.ts'

/** What generalisation needs to know of an area that contains a point. */
export interface GeneralisableArea {
  pcode: string
  level: AreaLevel
  areaDeg2: number
  repLat: number
  repLon: number
}

export interface GeneralisedLocation {
  lat: number
  lon: number
  areaPcode: string
  level: AreaLevel
}

/** The most precise of the areas: the highest level, then the smallest, then the lowest pcode (a stable answer on shared borders). */
export function smallestArea<T extends GeneralisableArea>(areas: readonly T[]): T | null {
  let best: T | null = null
  for (const a of areas) {
    if (!best || a.level > best.level || (a.level === best.level && (a.areaDeg2 < best.areaDeg2 || (a.areaDeg2 === best.areaDeg2 && a.pcode < best.pcode)))) best = a
  }
  return best
}

/**
 * THE generalisation every public or partner output uses: a location becomes the representative point of
 * the smallest known administrative area containing it (centroid, or a point on the surface when the
 * centroid falls outside; see representativePoint). No point, or no known area, gives null: the output then
 * shows the place name only. The input point is never returned, so a sensitive incident's exact location
 * cannot leak through here; only the area's own point (which an incident might happen to sit on, telling no
 * more than the area's name does).
 *
 * `areasContainingPoint` are the areas the point lies in (AreaRepository.containing); they are trusted to be so.
 */
export function generaliseLocation(point: LatLon | null, areasContainingPoint: readonly GeneralisableArea[]): GeneralisedLocation | null {
  if (point === null) return null
  const area = smallestArea(areasContainingPoint)
  if (!area) return null
  return { lat: area.repLat, lon: area.repLon, areaPcode: area.pcode, level: area.level }
}
