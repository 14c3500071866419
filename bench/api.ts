/**
 * `npm run bench -- api`: one page of 100 observations by bounding box and time window, over 1,000,000 rows,
 * through the real app (createAppContext, buildHttpApp, the bearer-token hook) on 127.0.0.1, on SQLite and
 * then on a throw-away PostgreSQL server. The reference for the HTTP figures is the same app serving the same
 * pages from memory on a second route, measured in the same run; bench/README.md describes every figure.
 *
 * LOUDER_BENCH_ROWS and LOUDER_BENCH_DIALECTS (sqlite,postgres) shrink a run while working on the bench;
 * figures are only comparable at the defaults.
 */
import { spawn } from 'node:child_process'
import http from 'node:http'
import { cpus } from 'node:os'
import v8 from 'node:v8'
import vm from 'node:vm'
import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { sql } from 'kysely'
import { type AppContext, createAppContext, SERVER_SQLITE_READERS } from '../src/app-context.ts'
import { buildConfig } from '../src/config/build-config.ts'
import { issueToken } from '../src/core/accounts/tokens.ts'
import { listObservations } from '../src/core/observations/observation.service.ts'
import type { Observation, ObservationQuery } from '../src/core/observations/observation.ts'
import type { Repositories } from '../src/core/ports/repositories.ts'
import type { DialectName } from '../src/db/dialect/dialect-adapter.ts'
import { buildHttpApp } from '../src/http/app.ts'
import { ObservationSchema, parseBBox, presentObservation } from '../src/http/routes/observations.ts'
import { PageOf, PageQuery, problemResponses, Strict, Timestamp } from '../src/http/schemas/common.ts'
import { createLogger } from '../src/log.ts'
import { type BenchQuery, bruteForce, type Dataset, generateDataset, generateQueries, pageDigest } from './api-dataset.ts'
import type { LoadPlan, LoadResult } from './api-load.ts'
import { forEachBenchDatabase } from './databases.ts'
import { progress, report, round, type Summary, summarize } from './report.ts'

const ROWS = Number(process.env.LOUDER_BENCH_ROWS ?? 1_000_000)
const DIALECTS = (process.env.LOUDER_BENCH_DIALECTS ?? 'sqlite,postgres').split(',') as DialectName[]
/** SQLite reader threads: as many as `louder serve` starts (SERVER_SQLITE_READERS), unless set; 0 runs every query on the event loop. */
const SQLITE_READERS = Number(process.env.LOUDER_BENCH_SQLITE_READERS ?? SERVER_SQLITE_READERS)
const PAGE = 100
/** Distinct questions; the latency passes ask each once, the load cycles through them. */
const QUERIES = 2_000
/** How many of them are also answered by scanning every row: the brute-force reference and the correctness check. */
const VERIFIED = 200
const WARMUP_QUERIES = 200
const SEED_BATCH = 50_000
const CONNECTIONS = 32
const LOAD_STEP_S = 5
const LOAD_ROUNDS = 2
const WARMUP_S = 2
const P99_TARGET_MS = 50
const RPS_RATIO_TARGET = 0.5
const MEMORY_ROUTE = '/bench/observations-from-memory'
const BENCH_USER = '01890000-0000-7000-8000-00000000be4c'

export async function run(): Promise<void> {
  const queries = generateQueries(QUERIES)
  await forEachBenchDatabase(DIALECTS, (dialect, where) => benchDialect(dialect, where, queries))
}

async function benchDialect(dialect: DialectName, where: { dataDir: string; databaseUrl: string | undefined }, queries: BenchQuery[]): Promise<void> {
  const config = buildConfig({ dataDir: where.dataDir, databaseUrl: where.databaseUrl, port: '0' })
  const ctx = await createAppContext(config, createLogger({ level: 'silent' }), { sqliteReaders: SQLITE_READERS })
  let app: FastifyInstance | undefined
  try {
    await ctx.store.repos.users.insert(
      { id: BENCH_USER, email: 'bench@example.org', displayName: 'Bench', roles: ['researcher'], mustChangePassword: false, createdAt: Date.now(), disabledAt: null },
      null,
    )
    const { token } = await issueToken(ctx.store.repos, BENCH_USER, { name: 'bench' })

    let started = performance.now()
    let data: Dataset | null = generateDataset(ROWS, BENCH_USER)
    progress(`${dialect}: generated ${ROWS.toLocaleString('en')} rows in ${seconds(started)}`)
    started = performance.now()
    await seedObservations(ctx, data.rows)
    progress(`${dialect}: seeded in ${seconds(started)}`)
    started = performance.now()
    if (dialect === 'sqlite') await sql`analyze`.execute(ctx.db.kysely)
    // VACUUM also sets the visibility map, as autovacuum would by now on a live server: index-only scans need it.
    else await sql`vacuum analyze`.execute(ctx.db.kysely)
    progress(`${dialect}: analyzed in ${seconds(started)}`)

    // The repository alone, no HTTP: this pass also fixes the pages the memory route will serve.
    const repos = ctx.store.repos
    for (const q of queries.slice(0, WARMUP_QUERIES)) await repos.observations.list(q.query)
    const pages: Observation[][] = []
    const repoTimes: number[] = []
    for (const q of queries) {
      const t = performance.now()
      pages.push(await repos.observations.list(q.query))
      repoTimes.push(performance.now() - t)
    }
    const bruteTimes: number[] = []
    let wrong = 0
    for (let i = 0; i < VERIFIED; i++) {
      const t = performance.now()
      const expected = bruteForce(data, queries[i]!.query)
      bruteTimes.push(performance.now() - t)
      if (pageDigest(expected) !== pageDigest(pages[i]!)) wrong++
    }
    if (wrong) throw new Error(`${dialect}: ${wrong} of ${VERIFIED} pages differ from a scan of every row`)
    const repo = summarize(repoTimes)
    const brute = summarize(bruteTimes)
    progress(`${dialect}: repository p50 ${repo.p50.toFixed(2)} ms, p99 ${repo.p99.toFixed(2)} ms; ${VERIFIED} pages match a full scan`)
    // From here on the process holds what a server holds: the dataset goes, and its garbage with it.
    data = null
    collectGarbage()

    const byKey = new Map(queries.map((q, i) => [pageKey(q.query), pages[i]!]))
    app = await buildHttpApp(ctx)
    registerMemoryRoute(app, ctx.store.repos, byKey)
    await app.listen({ host: '127.0.0.1', port: 0 })
    const address = app.server.address()
    if (!address || typeof address === 'string') throw new Error('the server has no TCP address')
    const origin = `http://127.0.0.1:${address.port}`

    const { db: httpDb, memory: httpMemory } = await sequentialLatency(origin, token, queries, pages)
    progress(`${dialect}: HTTP p50 ${httpDb.p50.toFixed(2)} ms, p99 ${httpDb.p99.toFixed(2)} ms; from memory p50 ${httpMemory.p50.toFixed(2)} ms, p99 ${httpMemory.p99.toFixed(2)} ms`)

    const load = await loadTest(origin, token, queries)
    progress(
      `${dialect}: ${load.db.rps.toFixed(0)} req/s from the database, ${load.memory.rps.toFixed(0)} req/s from memory; server CPU ` +
        `${((load.db.serverCpuS * 1000) / load.db.requests).toFixed(2)} vs ${((load.memory.serverCpuS * 1000) / load.memory.requests).toFixed(2)} ms a request`,
    )

    const version =
      dialect === 'sqlite'
        ? `SQLite ${(await sql<{ v: string }>`select sqlite_version() as v`.execute(ctx.db.kysely)).rows[0]!.v}`
        : (await sql<{ v: string }>`select version() as v`.execute(ctx.db.kysely)).rows[0]!.v.split(' on ')[0]!
    const common = { dialect, database: version, rows: ROWS, page: PAGE, node: process.version, cpus: cpus().length, ...(dialect === 'sqlite' ? { sqlite_readers: SQLITE_READERS } : {}) }
    const latencyParams = { ...common, queries: QUERIES, bbox_deg: '0.05-5 log-uniform', window_days: '7-365 log-uniform', sequential: true }
    for (const stat of ['p50', 'p99', 'mean'] as const) {
      const target = dialect === 'sqlite' && stat === 'p99' ? { target_ms: P99_TARGET_MS, meets_target: httpDb.p99 < P99_TARGET_MS } : {}
      report(timeFigure(`api-${dialect}-http-${stat}`, httpDb, httpMemory, stat, { ...latencyParams, reference: `${MEMORY_ROUTE} (same app, same pages, no database)`, ...target }))
    }
    for (const stat of ['p50', 'p99', 'mean'] as const)
      report(timeFigure(`api-${dialect}-repo-${stat}`, repo, brute, stat, { ...latencyParams, reference: `scan of all ${ROWS} rows in memory (${VERIFIED} of the queries)`, reference_queries: VERIFIED }))
    report({
      bench: `api-${dialect}-rps`,
      value: round(load.db.rps, 1),
      reference: round(load.memory.rps, 1),
      ratio: round(load.db.rps / load.memory.rps),
      unit: 'req/s',
      params: {
        ...common,
        reference: `${MEMORY_ROUTE} (same app, same pages, no database)`,
        connections: CONNECTIONS,
        seconds_each: LOAD_STEP_S * LOAD_ROUNDS,
        paths: QUERIES,
        latency_p99_ms: round(load.db.latencyP99Ms, 1),
        reference_latency_p99_ms: round(load.memory.latencyP99Ms, 1),
        server_cpu_ms_per_request: round((load.db.serverCpuS * 1000) / load.db.requests),
        reference_server_cpu_ms_per_request: round((load.memory.serverCpuS * 1000) / load.memory.requests),
        server_cpu_share: round(load.db.serverCpuS / load.db.durationS),
        reference_server_cpu_share: round(load.memory.serverCpuS / load.memory.durationS),
        target_ratio: RPS_RATIO_TARGET,
        meets_target: load.db.rps / load.memory.rps >= RPS_RATIO_TARGET,
      },
    })
  } finally {
    await app?.close()
    await ctx.close()
  }
}

function timeFigure(bench: string, ours: Summary, reference: Summary, stat: 'p50' | 'p99' | 'mean', params: Record<string, unknown>) {
  return { bench, value: round(ours[stat]), reference: round(reference[stat]), ratio: round(reference[stat] / ours[stat]), unit: 'ms', params }
}

export async function seedObservations(ctx: AppContext, rows: Observation[]): Promise<void> {
  for (let i = 0; i < rows.length; i += SEED_BATCH) {
    const batch = rows.slice(i, i + SEED_BATCH)
    if (ctx.db.name === 'sqlite') {
      await ctx.store.transaction((repos) => repos.observations.insertMany(batch))
    } else {
      // One statement per batch: arrays as parameters, unnested by the server (a multi-row VALUES would need 8 parameters a row).
      await sql`insert into observations (id, narrative, occurred_at, lat, lon, created_by, created_at, updated_at)
        select * from unnest(${batch.map((r) => r.id)}::text[], ${batch.map((r) => r.narrative)}::text[], ${batch.map((r) => r.occurredAt)}::int8[],
          ${batch.map((r) => r.location?.lat ?? null)}::float8[], ${batch.map((r) => r.location?.lon ?? null)}::float8[],
          ${batch.map((r) => r.createdBy)}::text[], ${batch.map((r) => r.createdAt)}::int8[], ${batch.map((r) => r.updatedAt)}::int8[])`.execute(ctx.db.kysely)
    }
    if ((i / SEED_BATCH) % 5 === 4) progress(`${ctx.db.name}: ${(i + batch.length).toLocaleString('en')} rows`)
  }
}

/** The list route's query string schema, as src/http/routes/observations.ts declares it. */
const ListQuery = Strict({
  bbox: Type.Optional(Type.String({ pattern: '^-?[0-9.]+,-?[0-9.]+,-?[0-9.]+,-?[0-9.]+$' })),
  from: Type.Optional(Timestamp),
  to: Type.Optional(Timestamp),
  ...PageQuery,
})

/**
 * The reference route: the list route's handler with the repository's list replaced by a map lookup. Same
 * app, same auth hook (it looks the token up in the database, as the real route does), same validation,
 * same core service, same presentation and response schema: what differs is only where the page comes from.
 */
function registerMemoryRoute(app: FastifyInstance, repos: Repositories, pages: Map<string, Observation[]>): void {
  const memory: Repositories = {
    ...repos,
    observations: {
      ...repos.observations,
      async list(query) {
        const page = pages.get(pageKey(query))
        if (!page) throw new Error(`no page in memory for ${pageKey(query)}`)
        return page
      },
    },
  }
  app.get<{ Querystring: Static<typeof ListQuery> }>(
    MEMORY_ROUTE,
    {
      config: { action: 'observation.list' },
      schema: { querystring: ListQuery, response: { 200: PageOf(ObservationSchema), ...problemResponses(400, 401, 403) } },
    },
    async (req) => {
      const q = req.query
      const page = await listObservations(memory, req.actor, {
        bbox: q.bbox ? parseBBox(q.bbox) : undefined,
        from: q.from ? Date.parse(q.from) : undefined,
        to: q.to ? Date.parse(q.to) : undefined,
        limit: q.limit ?? 50,
        cursor: q.cursor,
      })
      return { items: page.items.map(presentObservation), next: page.next }
    },
  )
}

function pageKey(q: ObservationQuery): string {
  return JSON.stringify([q.bbox, q.from, q.to, q.limit, q.after ?? null])
}

function memoryPath(path: string): string {
  return MEMORY_ROUTE + path.slice(path.indexOf('?'))
}

/** Each question once to each route, one request at a time on one keep-alive connection, alternating which goes first. */
async function sequentialLatency(origin: string, token: string, queries: BenchQuery[], pages: Observation[][]): Promise<{ db: Summary; memory: Summary }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })
  const fetchPage = (path: string, expected: Observation[]) => timedGet(agent, origin, path, token, expected)
  try {
    for (let i = 0; i < WARMUP_QUERIES; i++) {
      await fetchPage(queries[i]!.path, pages[i]!)
      await fetchPage(memoryPath(queries[i]!.path), pages[i]!)
    }
    const db: number[] = []
    const memory: number[] = []
    for (let i = 0; i < queries.length; i++) {
      const path = queries[i]!.path
      if (i % 2 === 0) {
        db.push(await fetchPage(path, pages[i]!))
        memory.push(await fetchPage(memoryPath(path), pages[i]!))
      } else {
        memory.push(await fetchPage(memoryPath(path), pages[i]!))
        db.push(await fetchPage(path, pages[i]!))
      }
    }
    return { db: summarize(db), memory: summarize(memory) }
  } finally {
    agent.destroy()
  }
}

/** Milliseconds from sending the request to the last byte of the answer; checks that the answer is the expected page. */
function timedGet(agent: http.Agent, origin: string, path: string, token: string, expected: Observation[]): Promise<number> {
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const req = http.get(`${origin}${path}`, { agent, headers: { authorization: `Bearer ${token}` } }, (res) => {
      const chunks: Buffer[] = []
      res.on('data', (c: Buffer) => chunks.push(c))
      res.on('error', reject)
      res.on('end', () => {
        const elapsed = performance.now() - started
        const body = Buffer.concat(chunks).toString('utf8')
        if (res.statusCode !== 200) return reject(new Error(`GET ${path}: ${res.statusCode} ${body.slice(0, 300)}`))
        const page = JSON.parse(body) as { items: { id: string }[]; next: string | null }
        const ids = expected.slice(0, PAGE).map((o) => o.id)
        if (page.items.map((o) => o.id).join() !== ids.join() || (page.next !== null) !== expected.length > PAGE)
          return reject(new Error(`GET ${path}: not the page the repository gave`))
        resolve(elapsed)
      })
    })
    req.on('error', reject)
  })
}

/** Requests per second under CONNECTIONS keep-alive connections, database and memory routes alternating. */
interface ServerLoadResult extends LoadResult {
  /** CPU seconds the server process used during the step (the load client runs in another process). */
  serverCpuS: number
}

async function loadTest(origin: string, token: string, queries: BenchQuery[]): Promise<{ db: ServerLoadResult; memory: ServerLoadResult }> {
  const dbPaths = queries.map((q) => q.path)
  const memoryPaths = dbPaths.map(memoryPath)
  const step = (label: string, paths: string[], durationS: number) => ({ label, paths, connections: CONNECTIONS, durationS })
  const plan: LoadPlan = {
    origin,
    token,
    steps: [
      step('warmup-db', dbPaths, WARMUP_S),
      step('warmup-memory', memoryPaths, WARMUP_S),
      ...Array.from({ length: LOAD_ROUNDS }, () => [step('db', dbPaths, LOAD_STEP_S), step('memory', memoryPaths, LOAD_STEP_S)]).flat(),
    ],
  }
  const results = await runLoadClient(plan)
  const total = (label: string): ServerLoadResult => {
    const runs = results.filter((r) => r.label === label)
    const requests = runs.reduce((a, r) => a + r.requests, 0)
    const durationS = runs.reduce((a, r) => a + r.durationS, 0)
    const bad = runs.reduce((a, r) => a + r.non2xx + r.errors, 0)
    if (bad) throw new Error(`load on the ${label} route: ${bad} failed requests`)
    return {
      event: 'done',
      label,
      requests,
      durationS,
      serverCpuS: runs.reduce((a, r) => a + r.serverCpuS, 0),
      rps: requests / durationS,
      non2xx: 0,
      errors: 0,
      latencyP50Ms: Math.max(...runs.map((r) => r.latencyP50Ms)),
      latencyP99Ms: Math.max(...runs.map((r) => r.latencyP99Ms)),
    }
  }
  return { db: total('db'), memory: total('memory') }
}

/** Runs the plan in a child process; adds to each result the CPU time this process (the server) spent on it. */
function runLoadClient(plan: LoadPlan): Promise<ServerLoadResult[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [new URL('./api-load.ts', import.meta.url).pathname], { stdio: ['pipe', 'pipe', 'inherit'] })
    const results: ServerLoadResult[] = []
    let cpuAtStart = process.cpuUsage()
    let pending = ''
    child.stdout.on('data', (d: Buffer) => {
      pending += d.toString()
      let newline: number
      while ((newline = pending.indexOf('\n')) >= 0) {
        const line = JSON.parse(pending.slice(0, newline)) as { event: 'start' } | LoadResult
        pending = pending.slice(newline + 1)
        if (line.event === 'start') cpuAtStart = process.cpuUsage()
        else {
          const cpu = process.cpuUsage(cpuAtStart)
          results.push({ ...line, serverCpuS: (cpu.user + cpu.system) / 1e6 })
        }
      }
    })
    child.once('error', reject)
    child.once('close', (code) => (code === 0 ? resolve(results) : reject(new Error(`the load client exited with ${code}`))))
    child.stdin.end(JSON.stringify(plan))
  })
}

/** A full collection now, so that the dataset's million objects are not collected in the middle of a measurement. */
function collectGarbage(): void {
  v8.setFlagsFromString('--expose-gc')
  ;(vm.runInNewContext('gc') as () => void)()
}

function seconds(since: number): string {
  return `${((performance.now() - since) / 1000).toFixed(1)} s`
}
