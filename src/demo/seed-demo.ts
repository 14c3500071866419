import type { AppContext } from '../app-context.ts'
import { uuidv7 } from '../core/ids.ts'
import type { Observation } from '../core/observations/observation.ts'
import { systemActor } from '../core/access/actor.ts'
import { createParty } from '../core/register/parties.ts'
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
      rows.push({
        id: uuidv7(occurredAt),
        narrative: `${DEMO_LABEL} ${place.name}: ${EVENTS[i % EVENTS.length]}.`,
        occurredAt,
        location: { lat: place.lat + ((i * 7) % 10) / 100, lon: place.lon + ((i * 3) % 10) / 100 },
        createdBy: author!.id,
        createdAt: now,
        updatedAt: now,
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

/** Every demo seeder, in order. Later issues append theirs here. */
export const DEMO_SEEDERS: DemoSeeder[] = [observationsSeeder, partiesSeeder]

/** Loads the demo dataset once per data directory; a second `--demo` start leaves it as it is. */
export async function seedDemo(ctx: AppContext): Promise<boolean> {
  if (await ctx.store.repos.meta.get('demo_seeded_at')) return false
  for (const seeder of DEMO_SEEDERS) await seeder.seed(ctx)
  await ctx.store.repos.meta.set('demo_seeded_at', new Date().toISOString())
  return true
}
