import { uuidv7 } from '../../src/core/ids.ts'
import type { Observation } from '../../src/core/observations/observation.ts'

const T0 = Date.UTC(2025, 0, 1)

/** An observation with every field at a plain default (no place, consent to every use), as tests build them. */
export function anObservation(createdBy: string, overrides: Partial<Observation> = {}): Observation {
  return {
    id: uuidv7(),
    narrative: 'seen at the checkpoint',
    occurredAt: T0,
    location: null,
    createdBy,
    createdAt: T0,
    updatedAt: T0,
    sources: [],
    urgent: false,
    language: null,
    media: [],
    sealed: null,
    consentSummary: { publication: true, partners: true, court: true },
    title: null,
    eventType: null,
    parties: [],
    ...overrides,
  }
}
