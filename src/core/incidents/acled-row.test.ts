import { describe, expect, it } from 'vitest'
import { ACLED_COLUMNS, acledRow } from './acled-row.ts'
import type { OutwardIncident } from './public-view.ts'

const base: OutwardIncident = {
  id: 'i-1',
  eventType: 'Riots',
  subEventType: 'Mob violence',
  actors: [],
  civilianTargeting: false,
  occurredAt: Date.UTC(2024, 1, 29, 23, 30),
  timePrecision: 2,
  placeName: 'Market, "old" town',
  admin1: null,
  admin2: null,
  location: null,
  geoPrecision: 3,
  counts: {},
  narrative: '=HYPERLINK("x")',
  languages: [],
  sourceTypes: ['witness', 'media'],
  media: [],
  publishedAt: null,
}
const party = (name: string, interCode: number, associated: { name: string; interCode: number }[] = []) => ({ name, interCode, associated })
const row = (i: OutwardIncident) => Object.fromEntries(ACLED_COLUMNS.map((c, k) => [c, acledRow(i)[k]]))

describe('acledRow', () => {
  it("fills ACLED's two actor slots, keeping every further actor in assoc_actor_2", () => {
    const r = row({ ...base, actors: [party('Army', 1, [party('Allied militia', 3)]), party('Rebels', 2), party('Third', 4, [party('Fourth', 5)])] })
    expect(r).toMatchObject({ actor1: 'Army', assoc_actor_1: 'Allied militia', inter1: 1, actor2: 'Rebels', assoc_actor_2: 'Third; Fourth', inter2: 2, interaction: 12 })
  })

  it('codes one actor as its inter code and 0, no actor as empty, and dates in UTC', () => {
    expect(row({ ...base, actors: [party('Rioters', 5)] })).toMatchObject({ interaction: 50, actor2: '', inter2: '' })
    expect(row(base)).toMatchObject({ interaction: '', event_date: '2024-02-29', year: 2024, time_precision: 2 })
  })

  it("gives ACLED's disorder type, conservative fatalities, and source types", () => {
    expect(row(base)).toMatchObject({ disorder_type: 'Political violence; Demonstrations', fatalities: 0, source: 'witness; media' })
    expect(row({ ...base, eventType: 'Protests', subEventType: 'Peaceful protest', counts: { killed: { min: 3, max: 9 } } })).toMatchObject({ disorder_type: 'Demonstrations', fatalities: 3 })
    expect(row({ ...base, eventType: 'Strategic developments', subEventType: 'Agreement' }).disorder_type).toBe('Strategic developments')
    expect(row({ ...base, eventType: 'Battles', subEventType: 'Armed clash' }).disorder_type).toBe('Political violence')
  })
})
