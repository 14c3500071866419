/**
 * `npm run bench -- register`: the incident register's two hard questions over 1,000,000 incidents, on
 * SQLite and then on a throw-away PostgreSQL server, through the repository (the search the API runs):
 * - bbox + time + party, newest first, 50 to a page;
 * - full text (one or two words), newest first, 50 to a page.
 * The reference is the platform benchmark's plain row query (`api`: a page of observations by box and time)
 * over 1,000,000 observations in the same database, measured in the same run. A sample of each kind is
 * checked against a scan of every incident.
 *
 * LOUDER_BENCH_ROWS and LOUDER_BENCH_DIALECTS (sqlite,postgres) shrink a run while working on the bench.
 */
import { cpus } from 'node:os'
import { sql } from 'kysely'
import { type AppContext, createAppContext } from '../src/app-context.ts'
import { buildConfig } from '../src/config/build-config.ts'
import type { DialectName } from '../src/db/dialect/dialect-adapter.ts'
import { createLogger } from '../src/log.ts'
import { seedObservations } from './api.ts'
import { generateDataset, generateQueries } from './api-dataset.ts'
import { bruteForcePage, generateRegister, incidentsOf, PARTY_COUNT, partyId, type RegisterData, type RegisterQuery, registerQueries, vocabulary } from './register-dataset.ts'
import { forEachBenchDatabase } from './databases.ts'
import { progress, report, round, summarize } from './report.ts'

const ROWS = Number(process.env.LOUDER_BENCH_ROWS ?? 1_000_000)
const DIALECTS = (process.env.LOUDER_BENCH_DIALECTS ?? 'sqlite,postgres').split(',') as DialectName[]
const QUERIES = 500
const VERIFIED = 40
const SEED_BATCH = 20_000
const P99_TARGET_MS = 50
const BENCH_USER = '01890000-0000-7000-8000-00000000be4d'

export async function run(): Promise<void> {
  let started = performance.now()
  const words = vocabulary()
  const data = generateRegister(ROWS)
  const queries = registerQueries(data, QUERIES, words)
  progress(`register: generated ${ROWS.toLocaleString('en')} incidents and ${queries.length} questions in ${seconds(started)}`)
  await forEachBenchDatabase(DIALECTS, async (dialect, where) => {
    started = performance.now()
    await benchDialect(where, data, words, queries)
    progress(`register: ${dialect} done in ${seconds(started)}`)
  })
}

async function benchDialect(where: { dataDir: string; databaseUrl: string | undefined }, data: RegisterData, words: string[], queries: RegisterQuery[]): Promise<void> {
  const ctx = await createAppContext(buildConfig({ dataDir: where.dataDir, databaseUrl: where.databaseUrl, port: '0' }), createLogger({ level: 'silent' }))
  const dialect = ctx.db.name
  try {
    const now = Date.now()
    await ctx.store.repos.users.insert({ id: BENCH_USER, email: 'bench-register@example.org', displayName: 'Bench', roles: ['editor'], mustChangePassword: false, createdAt: now, disabledAt: null }, null)
    let started = performance.now()
    await seedParties(ctx)
    await seedIncidents(ctx, data, words)
    progress(`${dialect}: seeded ${ROWS.toLocaleString('en')} incidents in ${seconds(started)}`)
    started = performance.now()
    const observations = generateDataset(ROWS, BENCH_USER)
    await seedObservations(ctx, observations.rows)
    progress(`${dialect}: seeded ${ROWS.toLocaleString('en')} observations (the reference) in ${seconds(started)}`)
    if (dialect === 'sqlite') await sql`analyze`.execute(ctx.db.kysely)
    else await sql`vacuum analyze`.execute(ctx.db.kysely)

    const repos = ctx.store.repos
    const reference = generateQueries(QUERIES)
    for (const q of reference.slice(0, 50)) await repos.observations.list(q.query)
    for (const q of queries.slice(0, 20)) await repos.incidents.list(q.query)
    for (const q of queries.slice(QUERIES, QUERIES + 20)) await repos.incidents.list(q.query)

    const timesOf = async (run: () => Promise<unknown>) => {
      const t = performance.now()
      await run()
      return performance.now() - t
    }
    // Interleaved, so the reference and ours see the same machine at the same moments.
    const ref: number[] = []
    const byKind: Record<'party' | 'text', number[]> = { party: [], text: [] }
    const pages = new Map<RegisterQuery, string[]>()
    for (let i = 0; i < QUERIES; i++) {
      ref.push(await timesOf(() => repos.observations.list(reference[i]!.query)))
      for (const q of [queries[i]!, queries[QUERIES + i]!]) {
        const t = performance.now()
        const rows = await repos.incidents.list(q.query)
        byKind[q.kind].push(performance.now() - t)
        pages.set(q, rows.slice(0, q.query.limit).map((r) => r.id))
      }
    }
    let wrong = 0
    for (const q of [...queries.slice(0, VERIFIED), ...queries.slice(QUERIES, QUERIES + VERIFIED)]) if (bruteForcePage(data, q).join() !== pages.get(q)!.join()) wrong++
    if (wrong) throw new Error(`${dialect}: ${wrong} of ${2 * VERIFIED} pages differ from a scan of every incident`)
    const reference50 = summarize(ref)
    const version =
      dialect === 'sqlite'
        ? `SQLite ${(await sql<{ v: string }>`select sqlite_version() as v`.execute(ctx.db.kysely)).rows[0]!.v}`
        : (await sql<{ v: string }>`select version() as v`.execute(ctx.db.kysely)).rows[0]!.v.split(' on ')[0]!
    const matches = (kind: 'party' | 'text') => {
      const sizes = queries.filter((q) => q.kind === kind).map((q) => pages.get(q)!.length)
      return round(sizes.reduce((a, b) => a + b, 0) / sizes.length, 1)
    }
    for (const kind of ['party', 'text'] as const) {
      const ours = summarize(byKind[kind])
      progress(`${dialect}: ${kind} p50 ${ours.p50.toFixed(2)} ms, p99 ${ours.p99.toFixed(2)} ms; plain row query p50 ${reference50.p50.toFixed(2)} ms, p99 ${reference50.p99.toFixed(2)} ms`)
      for (const stat of ['p50', 'p99'] as const) {
        const target = dialect === 'sqlite' && stat === 'p99' ? { target_ms: P99_TARGET_MS, meets_target: ours.p99 < P99_TARGET_MS } : {}
        report({
          bench: `register-${dialect}-${kind}-${stat}`,
          value: round(ours[stat]),
          reference: round(reference50[stat]),
          ratio: round(reference50[stat] / ours[stat]),
          unit: 'ms',
          params: {
            dialect,
            database: version,
            incidents: ROWS,
            observations: ROWS,
            queries: QUERIES,
            verified: VERIFIED,
            page: 50,
            mean_rows_per_page: matches(kind),
            question: kind === 'party' ? 'bbox 0.05–5° + window 7–365 days + one of 300 parties (by weight), newest first' : 'one or two words of rank 20–4000 (Zipf), newest first',
            reference: "the api bench's plain row query: a page of 100 observations by box and time (repository), same database, same run",
            node: process.version,
            cpus: cpus().length,
            ...target,
          },
        })
      }
    }
  } finally {
    await ctx.close()
  }
}

async function seedParties(ctx: AppContext): Promise<void> {
  const now = Date.now()
  for (let p = 0; p < PARTY_COUNT; p++)
    await ctx.store.repos.parties.insert(
      { id: partyId(p), name: `Bench party ${p}`, nameKey: `bench party ${p}`, aliases: [], interCode: ((p % 8) + 1) as 1, description: null, parentId: null, createdAt: now, updatedAt: now, createdBy: null, archivedAt: null },
      [],
    )
}

async function seedIncidents(ctx: AppContext, data: RegisterData, words: string[]): Promise<void> {
  for (let i = 0; i < data.count; i += SEED_BATCH) {
    const batch = incidentsOf(data, i, Math.min(data.count, i + SEED_BATCH), words, BENCH_USER)
    await ctx.store.transaction((repos) => repos.incidents.insertMany(batch))
    if ((i / SEED_BATCH) % 10 === 9) progress(`${ctx.db.name}: ${(i + batch.length).toLocaleString('en')} incidents`)
  }
}

function seconds(since: number): string {
  return `${((performance.now() - since) / 1000).toFixed(1)} s`
}


