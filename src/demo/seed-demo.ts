import type { AppContext } from '../app-context.ts'
import { uuidv7 } from '../core/ids.ts'
import type { Observation, ObservationSource, RestrictedContent } from '../core/observations/observation.ts'
import { restrictedContext } from '../core/observations/observation.service.ts'
import { importAreas } from '../core/register/areas.ts'
import { systemActor } from '../core/access/actor.ts'
import { createParty } from '../core/register/parties.ts'
import { incidentsSeeder } from './seed-incidents.ts'
import { DEMO_LABEL, type DemoSeeder } from './seeders.ts'

const DEMO_RESEARCHER = 'demo.researcher@example.org'

/** Fictional places and events, so nobody mistakes the demo for real reporting. */
const PLACES = [
  { name: 'Valdoria North', lat: 12.61, lon: 30.12 },
  { name: 'Port Ersa', lat: 11.94, lon: 31.05 },
  { name: 'Kessin crossing', lat: 13.2, lon: 29.41 },
  { name: 'Amber Hills camp', lat: 12.08, lon: 29.87 },
]
const EVENTS = [
  'shelling reported near the market; residents sheltering in the school',
  'families arriving on foot, asking for tarps and water',
  'checkpoint closed; a convoy of aid trucks turned back',
  'clinic without power since the morning; generator fuel needed',
  'armed group seen moving through the valley at dawn',
]

const DEMO_SOURCES: ObservationSource[][] = [
  [{ type: 'witness', reliability: 'B', description: `${DEMO_LABEL} met in person at the camp` }],
  [{ type: 'ngo', reliability: 'A', description: `${DEMO_LABEL} partner clinic report` }, { type: 'social_media', reliability: 'F' }],
  [{ type: 'media', reliability: 'C', description: `${DEMO_LABEL} local radio bulletin` }],
  [{ type: 'official', reliability: 'D', description: `${DEMO_LABEL} statement by the district office` }],
]
const DEMO_LANGUAGES = ['ar-SD', 'en', 'fr', 'ar-SD']

/** A restricted part for the demo: invented people, labelled as fiction, sealed with a data key of its own. */
async function sealDemoRestricted(ctx: AppContext, id: string, authorId: string, now: number): Promise<Observation['sealed']> {
  const content: RestrictedContent = {
    notes: `${DEMO_LABEL} Follow-up visit planned; the witnesses asked to be contacted through the camp committee.`,
    witnesses: [
      { name: `Amira Testfield ${DEMO_LABEL}`, contact: `+000 0000 0001 ${DEMO_LABEL}`, role: 'witness', consent: { publication: false, partners: true, court: true, recordedAt: now, recordedBy: authorId } },
      { name: `Jonas Placeholder ${DEMO_LABEL}`, contact: null, role: 'victim', consent: null },
    ],
  }
  const dataKeyId = await ctx.sealer.reserveDataKey()
  return { value: await ctx.sealer.seal(JSON.stringify(content), restrictedContext(id), { dataKeyId }), dataKeyId }
}

const observationsSeeder: DemoSeeder = {
  name: 'observations',
  async seed(ctx) {
    const { repos } = ctx.store
    let author = await repos.users.byEmail(DEMO_RESEARCHER)
    if (!author) {
      const now = Date.now()
      await repos.users.insert({ id: uuidv7(now), email: DEMO_RESEARCHER, displayName: `Demo researcher ${DEMO_LABEL}`, roles: ['researcher'], mustChangePassword: false, createdAt: now, disabledAt: null }, null)
      author = await repos.users.byEmail(DEMO_RESEARCHER)
    }
    const now = Date.now()
    const rows: Observation[] = []
    for (let i = 0; i < 40; i++) {
      const place = PLACES[i % PLACES.length]!
      const occurredAt = now - i * 5 * 3600_000
      const id = uuidv7(occurredAt)
      // Every fifth observation carries the register's fuller record: sources, urgency, language.
      const full = i % 5 === 0
      rows.push({
        id,
        narrative: `${DEMO_LABEL} ${place.name}: ${EVENTS[i % EVENTS.length]}.`,
        occurredAt,
        location: { lat: place.lat + ((i * 7) % 10) / 100, lon: place.lon + ((i * 3) % 10) / 100 },
        createdBy: author!.id,
        createdAt: now,
        updatedAt: now,
        sources: full ? DEMO_SOURCES[(i / 5) % DEMO_SOURCES.length]! : [],
        urgent: full && i % 10 === 0,
        language: full ? DEMO_LANGUAGES[(i / 5) % DEMO_LANGUAGES.length]! : null,
        // The first one has a restricted part: fictional witnesses, sealed as real ones would be. Seeders run
        // outside any transaction, so the data key is made here.
        sealed: i === 0 ? await sealDemoRestricted(ctx, id, author!.id, now) : null,
      })
    }
    await repos.observations.insertMany(rows)
  },
}

/** Fictional actors of the demo's fictional country; `parent` names another entry, seeded before it. */
const PARTIES: { name: string; interCode: number; aliases?: string[]; parent?: string; description: string }[] = [
  { name: 'Valdorian Armed Forces', interCode: 1, aliases: ['VAF'], description: 'The army of the fictional state of Valdoria.' },
  { name: 'Valdorian 3rd Mountain Brigade', interCode: 1, aliases: ['3rd Brigade'], parent: 'Valdorian Armed Forces', description: 'A brigade of the Valdorian Armed Forces.' },
  { name: 'Northern Liberation Front', interCode: 2, aliases: ['NLF'], description: 'A fictional rebel group in Valdoria North.' },
  { name: 'Port Ersa Workers’ Militia', interCode: 3, description: 'A fictional political militia.' },
  { name: 'Hill Defence Militia', interCode: 4, aliases: ['Amber Hills Guard'], description: 'A fictional identity militia around the Amber Hills camp.' },
  { name: 'Kessin Protesters', interCode: 6, description: 'Residents protesting at the Kessin crossing (fictional).' },
  { name: 'Civilians (Valdoria)', interCode: 7, description: 'Unarmed people, in the fictional demo.' },
]

const partiesSeeder: DemoSeeder = {
  name: 'parties',
  async seed(ctx) {
    const ids = new Map<string, string>()
    for (const p of PARTIES) {
      const input = { name: `${p.name} ${DEMO_LABEL}`, interCode: p.interCode, aliases: p.aliases ?? [], description: `${DEMO_LABEL} ${p.description}`, parentId: p.parent ? (ids.get(p.parent) ?? null) : null }
      ids.set(p.name, (await ctx.store.transaction((repos) => createParty(repos, systemActor('demo'), input))).id)
    }
  },
}

/** A fictional province or district: a rectangle [west, south, east, north] around some of the PLACES. */
interface DemoArea {
  pcode: string
  name: string
  parent?: string
  box: [number, number, number, number]
}

/** Two provinces split at 12.5°N, four districts inside them; together they cover every demo place. */
const AREAS: DemoArea[] = [
  { pcode: 'DEMO-VN', name: 'Northern Valdoria Province', box: [29.3, 12.5, 31.2, 13.4] },
  { pcode: 'DEMO-VS', name: 'Southern Valdoria Province', box: [29.3, 11.8, 31.2, 12.5] },
  { pcode: 'DEMO-VN-01', name: 'Kessin District', parent: 'DEMO-VN', box: [29.3, 12.5, 30.0, 13.4] },
  { pcode: 'DEMO-VN-02', name: 'Valdoria North District', parent: 'DEMO-VN', box: [30.0, 12.5, 31.2, 13.4] },
  { pcode: 'DEMO-VS-01', name: 'Amber Hills District', parent: 'DEMO-VS', box: [29.3, 11.8, 30.5, 12.5] },
  { pcode: 'DEMO-VS-02', name: 'Port Ersa District', parent: 'DEMO-VS', box: [30.5, 11.8, 31.2, 12.5] },
]

/** The demo areas as a COD-AB-style FeatureCollection (ADM1_PCODE, ADM2_PCODE, ADM1_EN, ADM2_EN). */
export function demoAreasFeatureCollection(): unknown {
  return {
    type: 'FeatureCollection',
    features: AREAS.map((a) => {
      const [w, s, e, n] = a.box
      const name = `${a.name} ${DEMO_LABEL}`
      const properties = a.parent ? { ADM1_PCODE: a.parent, ADM2_PCODE: a.pcode, ADM2_EN: name } : { ADM1_PCODE: a.pcode, ADM1_EN: name }
      // Counter-clockwise, closed: the GeoJSON exterior ring.
      return { type: 'Feature', properties, geometry: { type: 'Polygon', coordinates: [[[w, s], [e, s], [e, n], [w, n], [w, s]]] } }
    }),
  }
}

const areasSeeder: DemoSeeder = {
  name: 'areas',
  async seed(ctx) {
    await ctx.store.transaction((repos) => importAreas(repos, demoAreasFeatureCollection(), { source: `${DEMO_LABEL} invented boundaries of the fictional Valdoria` }))
  },
}

/** Every demo seeder, in order. Later issues append theirs here. */
export const DEMO_SEEDERS: DemoSeeder[] = [areasSeeder, observationsSeeder, partiesSeeder, incidentsSeeder]

/** Loads the demo dataset once per data directory; a second `--demo` start leaves it as it is. */
export async function seedDemo(ctx: AppContext): Promise<boolean> {
  if (await ctx.store.repos.meta.get('demo_seeded_at')) return false
  for (const seeder of DEMO_SEEDERS) await seeder.seed(ctx)
  await ctx.store.repos.meta.set('demo_seeded_at', new Date().toISOString())
  return true
}
