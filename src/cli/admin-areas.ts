/**
 * `louder admin import-areas FILE.geojson`: loads a COD-AB or geoBoundaries boundary file into the areas,
 * all or nothing, audited as `system:cli`. Loaded only when the command runs (src/cli/commands/admin.ts).
 */
import { readFile, stat } from 'node:fs/promises'
import { basename } from 'node:path'
import { createAppContext } from '../app-context.ts'
import type { AreaLevel } from '../core/geo/admin-boundaries.ts'
import { ValidationError } from '../core/errors.ts'
import { importAreas } from '../core/register/areas.ts'
import { createLogger } from '../log.ts'
import { auditedCliWrite } from './cli-audit.ts'
import { configFrom } from './config-options.ts'
import { formatBytes } from './progress.ts'

/** Well past any country's ADM2 file; a bigger one is likely not what was meant (a whole-world ADM3 set). */
const MAX_FILE_BYTES = 512 * 1024 * 1024

export async function importAreasCommand(file: string, opts: { level?: AreaLevel; source?: string; json?: boolean }): Promise<void> {
  const size = await stat(file).then(
    (s) => s.size,
    (err: NodeJS.ErrnoException) => {
      throw new Error(`cannot read ${file}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`)
    },
  )
  if (size > MAX_FILE_BYTES) throw new Error(`${file} is ${formatBytes(size)}; at most ${formatBytes(MAX_FILE_BYTES)} is read`)
  let collection: unknown
  try {
    collection = JSON.parse(await readFile(file, 'utf8'))
  } catch (err) {
    throw new Error(`${file} is not valid JSON: ${err instanceof Error ? err.message : String(err)}`)
  }
  const source = opts.source ?? basename(file)
  const ctx = await createAppContext(configFrom(opts as Record<string, unknown>), createLogger({ level: 'warn' }))
  const tty = process.stderr.isTTY === true
  let lastTenth = -1
  try {
    const counts = await auditedCliWrite(ctx.store, 'admin import-areas', 'area.import', async (repos, audit) => {
      const counts = await importAreas(repos, collection, { level: opts.level, source }, (done, total) => {
        const tenth = Math.floor((10 * done) / total)
        if (tty) process.stderr.write(`\rimporting areas ${done}/${total}`)
        else if (tenth !== lastTenth) process.stderr.write(`importing areas ${done}/${total}\n`)
        lastTenth = tenth
      })
      audit.detail = { file: basename(file), source, ...counts }
      return counts
    })
    if (tty) process.stderr.write('\n')
    // Incidents already placed follow the new boundaries: the server's worker does it in the background.
    await ctx.jobs.enqueue('register.relocate-incidents', { afterId: null })
    process.stdout.write(
      opts.json
        ? `${JSON.stringify(counts)}\n`
        : `imported ${counts.features} areas from ${file} (${counts.byLevel.adm1} ADM1, ${counts.byLevel.adm2} ADM2): ${counts.inserted} new, ${counts.replaced} replaced\n`,
    )
  } catch (err) {
    if (tty) process.stderr.write('\n')
    // One line: the first thing wrong, where it is in the file; nothing was imported.
    if (err instanceof ValidationError) throw new Error(`${file}: ${err.errors.map((e) => `${e.field === 'source' ? '--source' : e.field || '/'}: ${e.message}`).join('; ')}; nothing was imported`)
    throw err
  } finally {
    await ctx.close()
  }
}
