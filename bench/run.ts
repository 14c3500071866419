/**
 * `npm run bench` runs every bench; `npm run bench -- <name>` runs one. Figures go to stdout as JSON lines
 * (bench/report.ts), progress to stderr. bench/README.md says what each figure means.
 */
import { progress } from './report.ts'

const BENCHES: Record<string, { about: string; load: () => Promise<{ run(): Promise<void> }> }> = {
  api: { about: 'GET /api/v1/observations by box and time over 1,000,000 rows, SQLite and PostgreSQL', load: () => import('./api.ts') },
  register: { about: 'incidents by box + time + party and by full text over 1,000,000 incidents, SQLite and PostgreSQL', load: () => import('./register.ts') },
  locker: { about: 'custody log append rate and proof times at 1,000,000 leaves; ingest of 2 GB against openssl, SQLite', load: () => import('./locker.ts') },
  match: { about: 'PDQ search at distance 31 over 1,000,000 hashes; images hashed per second', load: () => import('./match.ts') },
  verify: { about: 'verifying a 1 GB court bag (SHA-256 + SHA-512) against openssl dgst over its payload', load: () => import('./verify.ts') },
  sync: { about: 'louder sync over emulated BGAN, Certus and Starlink links against one plain upload; bytes re-sent per cut; time to an urgent report', load: () => import('./sync.ts') },
}

const names = process.argv.slice(2)
for (const name of names) {
  if (!Object.hasOwn(BENCHES, name)) {
    process.stderr.write(`unknown bench '${name}'; the benches are:\n`)
    for (const [known, { about }] of Object.entries(BENCHES)) process.stderr.write(`  ${known.padEnd(8)} ${about}\n`)
    process.exit(2)
  }
}
for (const name of names.length ? names : Object.keys(BENCHES)) {
  progress(`${name}: starting`)
  const started = performance.now()
  await (await BENCHES[name]!.load()).run()
  progress(`${name}: done in ${((performance.now() - started) / 1000).toFixed(1)} s`)
}
