/**
 * The `--demo` dataset on a fresh data directory: loaded once (a second start leaves it), every record
 * labelled as fiction, the demo places inside the fictional provinces and districts, and the one restricted
 * part sealed, opening only under its observation's context.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type AppContext, createAppContext } from '../../src/app-context.ts'
import { buildConfig } from '../../src/config/build-config.ts'
import { locateAdminAreas } from '../../src/core/register/areas.ts'
import { restrictedContext } from '../../src/core/observations/observation.service.ts'
import type { RestrictedContent } from '../../src/core/observations/observation.ts'
import type { DialectName } from '../../src/db/dialect/dialect-adapter.ts'
import { seedDemo } from '../../src/demo/seed-demo.ts'
import { DEMO_LABEL } from '../../src/demo/seeders.ts'
import { createLogger } from '../../src/log.ts'
import { createTestDatabase } from '../support/postgres.ts'
import { tmpDir } from '../support/tmp.ts'

for (const dialect of ['sqlite', 'postgres'] as const satisfies readonly DialectName[]) {
  describe(`demo dataset [${dialect}]`, () => {
    let ctx: AppContext
    beforeAll(async () => {
      const databaseUrl = dialect === 'postgres' ? await createTestDatabase() : undefined
      ctx = await createAppContext(buildConfig({ dataDir: tmpDir('louder-demo-'), databaseUrl }), createLogger({ level: 'silent' }))
    })
    afterAll(async () => {
      await ctx?.close()
    })

    it('loads once, labelled, placed in its fictional areas, its witnesses sealed', async () => {
      expect(await seedDemo(ctx)).toBe(true)
      const { repos } = ctx.store
      const observations = await repos.observations.list({ limit: 1_000 })
      expect(observations.length).toBe(40)
      expect(observations.every((o) => o.narrative.includes(DEMO_LABEL))).toBe(true)
      expect(observations.filter((o) => (o.sources?.length ?? 0) > 0).length).toBeGreaterThanOrEqual(3)
      expect(observations.some((o) => o.urgent)).toBe(true)
      expect(observations.some((o) => o.language)).toBe(true)

      for (const o of observations) {
        const where = await locateAdminAreas(repos, o.location!)
        expect(where.admin1?.name, o.narrative).toContain(DEMO_LABEL)
        expect(where.admin2?.name, o.narrative).toContain(DEMO_LABEL)
        expect(where.admin2?.parentPcode).toBe(where.admin1?.pcode)
      }

      const sealed = observations.filter((o) => o.sealed)
      expect(sealed).toHaveLength(1)
      const one = sealed[0]!
      expect(one.sealed!.value).not.toContain('Testfield')
      const content = JSON.parse((await ctx.sealer.open(one.sealed!.value, restrictedContext(one.id))).toString('utf8')) as RestrictedContent
      expect(content.notes).toContain(DEMO_LABEL)
      expect(content.witnesses.length).toBeGreaterThan(0)
      expect(content.witnesses.every((w) => w.name.includes(DEMO_LABEL))).toBe(true)
      await expect(ctx.sealer.open(one.sealed!.value, restrictedContext(observations.find((o) => !o.sealed)!.id))).rejects.toThrow()

      // Incidents in every state of the workflow, labelled, the sensitive one's exact point sealed.
      const incidents = await repos.incidents.list({ limit: 100 })
      expect(new Set(incidents.map((i) => i.status))).toEqual(new Set(['received', 'in_review', 'verified', 'unverifiable', 'rejected', 'published', 'retracted']))
      expect(incidents.every((i) => i.narrative.includes(DEMO_LABEL) && i.placeName.includes(DEMO_LABEL))).toBe(true)
      const published = incidents.filter((i) => i.status === 'published')
      expect(published.every((i) => i.publishedBy !== i.verifiedBy)).toBe(true)
      const sensitive = incidents.find((i) => i.sensitive)!
      expect(sensitive.location).toBeNull()
      expect(sensitive.publicPoint?.areaPcode).toBe('DEMO-VS-01')
      expect(sensitive.observationIds.length).toBeGreaterThan(0)
      // The sealed demo observation names a witness who refused publication: its consent is not assumed.
      expect(one.consentSummary).toEqual({ publication: false, partners: false, court: false })

      // A second start leaves the dataset as it is.
      expect(await seedDemo(ctx)).toBe(false)
      expect(await repos.observations.count()).toBe(40)
    })
  })
}
