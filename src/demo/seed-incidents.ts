import type { Actor } from '../core/access/actor.ts'
import type { AppContext } from '../app-context.ts'
import type { IncidentInput, IncidentStatus } from '../core/incidents/incident.ts'
import { createIncident, prepareIncidentSealing, transitionIncident } from '../core/incidents/incident.service.ts'
import { uuidv7 } from '../core/ids.ts'
import { DEMO_LABEL, type DemoSeeder } from './seeders.ts'

/** The review path to each demo status, and who takes each step (two editors: the two-person rule holds in the demo too). */
const PATHS: Record<IncidentStatus, [IncidentStatus, 'first' | 'second', string?][]> = {
  received: [],
  in_review: [['in_review', 'first']],
  verified: [['in_review', 'first'], ['verified', 'first']],
  unverifiable: [['in_review', 'first'], ['unverifiable', 'first']],
  rejected: [['in_review', 'first'], ['rejected', 'first', `${DEMO_LABEL} Duplicate of an earlier report.`]],
  published: [['in_review', 'first'], ['verified', 'first'], ['published', 'second']],
  retracted: [['in_review', 'first'], ['verified', 'first'], ['published', 'second'], ['retracted', 'second', `${DEMO_LABEL} The source withdrew the account.`]],
}

/** Fictional incidents of the demo country, coded in ACLED's terms; party names refer to the demo thesaurus. */
const INCIDENTS: { status: IncidentStatus; partyNames: string[]; input: Omit<IncidentInput, 'actors' | 'occurredAt'>; hoursAgo: number }[] = [
  {
    status: 'published',
    partyNames: ['Valdorian Armed Forces'],
    hoursAgo: 30,
    input: {
      eventType: 'Explosions/Remote violence',
      subEventType: 'Shelling/artillery/missile attack',
      civilianTargeting: true,
      location: { lat: 12.64, lon: 30.15 },
      placeName: `Valdoria North market ${DEMO_LABEL}`,
      counts: { killed: { min: 2, max: 4 }, injured: { min: 10, max: null } },
      narrative: `${DEMO_LABEL} Shells struck the market at midday; residents sheltered in the school.`,
      languages: ['en'],
      sources: [{ type: 'witness', reliability: 'B' }, { type: 'ngo', reliability: 'A' }],
    },
  },
  {
    status: 'published',
    partyNames: ['Hill Defence Militia', 'Northern Liberation Front'],
    hoursAgo: 54,
    input: {
      eventType: 'Battles',
      subEventType: 'Armed clash',
      location: { lat: 12.11, lon: 29.9 },
      placeName: `Amber Hills camp ${DEMO_LABEL}`,
      sensitive: true,
      geoPrecision: 2,
      counts: { displaced: { min: 300, max: 500 } },
      narrative: `${DEMO_LABEL} Fighting near the camp; families fled towards Port Ersa. The exact location is sealed.`,
      languages: ['en', 'fr'],
      restricted: { notes: `${DEMO_LABEL} Camp committee contact kept by the field team.`, victims: [{ name: `Child Placeholder ${DEMO_LABEL}`, description: `${DEMO_LABEL} injured, evacuated` }] },
    },
  },
  {
    status: 'verified',
    partyNames: ['Port Ersa Workers’ Militia'],
    hoursAgo: 12,
    input: {
      eventType: 'Violence against civilians',
      subEventType: 'Abduction/forced disappearance',
      civilianTargeting: true,
      location: { lat: 11.96, lon: 31.02 },
      placeName: `Port Ersa docks ${DEMO_LABEL}`,
      counts: { abducted: { min: 3, max: 3 } },
      narrative: `${DEMO_LABEL} Three dock workers taken from their homes at night.`,
    },
  },
  {
    status: 'in_review',
    partyNames: ['Kessin Protesters', 'Valdorian 3rd Mountain Brigade'],
    hoursAgo: 8,
    input: {
      eventType: 'Protests',
      subEventType: 'Excessive force against protesters',
      location: { lat: 13.21, lon: 29.43 },
      placeName: `Kessin crossing ${DEMO_LABEL}`,
      counts: { injured: { min: 5, max: 12 }, arrested: { min: 20, max: null } },
      narrative: `${DEMO_LABEL} Protesters at the crossing dispersed with live fire in the air; arrests reported.`,
    },
  },
  {
    status: 'received',
    partyNames: ['Northern Liberation Front'],
    hoursAgo: 3,
    input: {
      eventType: 'Strategic developments',
      subEventType: 'Looting/property destruction',
      location: { lat: 12.7, lon: 30.2 },
      placeName: `Valdoria North clinic ${DEMO_LABEL}`,
      timePrecision: 2,
      narrative: `${DEMO_LABEL} Clinic stores looted some time this week.`,
    },
  },
  {
    status: 'unverifiable',
    partyNames: ['Valdorian Armed Forces'],
    hoursAgo: 80,
    input: { eventType: 'Explosions/Remote violence', subEventType: 'Air/drone strike', placeName: `Somewhere in the valley ${DEMO_LABEL}`, geoPrecision: 3, narrative: `${DEMO_LABEL} A single social media post reports a drone strike.` },
  },
  {
    status: 'rejected',
    partyNames: ['Hill Defence Militia'],
    hoursAgo: 100,
    input: { eventType: 'Riots', subEventType: 'Mob violence', location: { lat: 12.09, lon: 29.88 }, placeName: `Amber Hills camp ${DEMO_LABEL}`, narrative: `${DEMO_LABEL} Reported twice by the same source.` },
  },
  {
    status: 'retracted',
    partyNames: ['Port Ersa Workers’ Militia'],
    hoursAgo: 150,
    input: { eventType: 'Violence against civilians', subEventType: 'Attack', location: { lat: 11.95, lon: 31.06 }, placeName: `Port Ersa ${DEMO_LABEL}`, narrative: `${DEMO_LABEL} An attack later found not to have happened as reported.` },
  },
]

async function demoEditor(ctx: AppContext, email: string, name: string): Promise<Actor> {
  const { repos } = ctx.store
  let user = await repos.users.byEmail(email)
  if (!user) {
    const now = Date.now()
    await repos.users.insert({ id: uuidv7(now), email, displayName: `${name} ${DEMO_LABEL}`, roles: ['editor'], mustChangePassword: false, createdAt: now, disabledAt: null }, null)
    user = (await repos.users.byEmail(email))!
  }
  return { kind: 'user', userId: user.id, roles: ['editor'], orgId: null, via: 'token', tokenId: null, sessionId: null, twoFactorPending: false }
}

/** Incidents in every state of the workflow, made through the same use cases as the API, from the demo observations. */
export const incidentsSeeder: DemoSeeder = {
  name: 'incidents',
  async seed(ctx) {
    const editors = { first: await demoEditor(ctx, 'demo.editor@example.org', 'Demo editor'), second: await demoEditor(ctx, 'demo.publisher@example.org', 'Demo publisher') }
    const { repos } = ctx.store
    const parties = new Map((await repos.parties.list({ limit: 500 })).map((p) => [p.name.replace(` ${DEMO_LABEL}`, ''), p.id]))
    const observations = await repos.observations.list({ limit: 40 })
    for (const [n, demo] of INCIDENTS.entries()) {
      const input: IncidentInput = {
        ...demo.input,
        occurredAt: Date.now() - demo.hoursAgo * 3600_000,
        actors: demo.partyNames.map((name) => ({ partyId: parties.get(name)!, associated: [] })),
        observationIds: observations.slice(n * 3, n * 3 + 2).map((o) => o.id),
      }
      const sealing = await prepareIncidentSealing(repos, ctx.sealer, null, input)
      let incident = await ctx.store.transaction((r) => createIncident(r, editors.first, input, sealing))
      for (const [to, who, reason] of PATHS[demo.status]) incident = await ctx.store.transaction((r) => transitionIncident(r, editors[who], incident.id, { to, version: incident.version, reason }))
    }
  },
}
