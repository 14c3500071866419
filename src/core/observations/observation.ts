/** What one researcher saw or heard. The incident-register issue extends this record; the platform proves the skeleton with it. */
export interface Observation {
  id: string
  narrative: string
  occurredAt: number
  location: { lat: number; lon: number } | null
  createdBy: string
  createdAt: number
  updatedAt: number
}

export interface NewObservation {
  narrative: string
  occurredAt: number
  location: { lat: number; lon: number } | null
}

/** A bounding box in degrees: west, south, east, north (GeoJSON order). */
export type BBox = readonly [west: number, south: number, east: number, north: number]

export interface ObservationQuery {
  bbox?: BBox
  from?: number
  to?: number
  limit: number
  /** Keyset position: list rows strictly before (occurredAt, id), newest first. */
  after?: { occurredAt: number; id: string }
}
