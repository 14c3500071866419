import type { Command } from 'commander'

const collect = (value: string, previous: string[] | undefined) => [...(previous ?? []), value]

/**
 * `louder field new DIR`, `louder field add DIR …`, `louder field check DIR`: a field folder
 * (docs/field-folder.md), the offline form of a researcher's reports that `louder sync` sends.
 */
export function registerField(program: Command): void {
  const field = program.command('field').description('a field folder: reports written offline, sent later with louder sync')

  field
    .command('new')
    .description('make DIR a field folder (refuses a non-empty folder that is not one)')
    .argument('<dir>', 'the folder')
    .action(async (dir: string) => {
      const { createFieldFolder } = await import('../../field/field-writer.ts')
      const { created } = await createFieldFolder(dir)
      process.stdout.write(created ? `field folder ${dir} created; add reports with: louder field add ${dir} --title …\n` : `${dir} is already a field folder\n`)
    })

  field
    .command('add')
    .description('add a report: front matter and narrative in reports/<id>.md, notes and witnesses encrypted beside it')
    .argument('<dir>', 'the field folder')
    .requiredOption('--title <title>', 'a short title')
    .option('--narrative <text>', 'what happened (or --narrative-file)')
    .option('--narrative-file <file>', 'a file holding the narrative (Markdown)')
    .option('--event-type <type>', "ACLED event type (Battles, Protests, 'Violence against civilians', …)")
    .option('--party <name>', 'a party as reported (repeatable)', collect)
    .option('--at <time>', 'when it happened, with its offset: 2024-05-01T14:30:00+03:00 or "2024-05-01 14:30 +03:00" (default: now)')
    .option('--lat <degrees>', 'latitude (WGS 84), with --lon')
    .option('--lon <degrees>', 'longitude (WGS 84), with --lat')
    .option('--accuracy <metres>', "the location's accuracy in metres")
    .option('--urgent', 'mark the report urgent')
    .option('--language <tag>', 'BCP 47 language tag of the narrative (fr, ar-SD)')
    .option('--media <file>', 'a photo or video (repeatable): copied into media/ unless already in the folder', collect)
    .option('--notes-file <file>', 'restricted notes (written only encrypted)')
    .option('--witness <name|contact|role[|uses]>', 'a witness (repeatable; written only encrypted): role witness, victim or other; uses a comma list of publication, partners, court', collect)
    .option('--passphrase-file <file>', 'the passphrase for the restricted part (or LOUDER_FIELD_PASSPHRASE)')
    .action(async (dir: string, opts) => {
      const { readFile } = await import('node:fs/promises')
      const { addFieldReport } = await import('../../field/field-writer.ts')
      const { parseWitness, readPassphrase } = await import('../field-input.ts')
      if ((opts.narrative === undefined) === (opts.narrativeFile === undefined)) throw new Error('give the narrative with --narrative or --narrative-file (one of them)')
      if ((opts.lat === undefined) !== (opts.lon === undefined)) throw new Error('give --lat and --lon together')
      const number = (name: string, value: string) => {
        const n = Number(value)
        if (value.trim() === '' || !Number.isFinite(n)) throw new Error(`${name} must be a number, not ${JSON.stringify(value)}`)
        return n
      }
      const narrative = opts.narrativeFile !== undefined ? await readFile(opts.narrativeFile, 'utf8') : (opts.narrative as string)
      const notes = opts.notesFile !== undefined ? await readFile(opts.notesFile, 'utf8') : null
      const witnesses = ((opts.witness as string[] | undefined) ?? []).map(parseWitness)
      const passphrase = notes || witnesses.length ? await readPassphrase(opts.passphraseFile) : undefined
      const { id, file } = await addFieldReport(dir, {
        title: opts.title,
        narrative,
        occurredAt: opts.at ?? new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
        eventType: opts.eventType ?? null,
        parties: opts.party ?? [],
        location:
          opts.lat === undefined
            ? null
            : { lat: number('--lat', opts.lat), lon: number('--lon', opts.lon), accuracy: opts.accuracy === undefined ? null : number('--accuracy', opts.accuracy) },
        urgent: opts.urgent === true,
        language: opts.language ?? null,
        media: ((opts.media as string[] | undefined) ?? []).map((f) => ({ file: f })),
        restricted: notes || witnesses.length ? { notes, witnesses } : null,
      }, { passphrase })
      process.stdout.write(`${id} ${file}\n`)
    })

  field
    .command('check')
    .description('read a field folder as louder sync will: list its reports and every problem (FILE:LINE: message)')
    .argument('<dir>', 'the field folder')
    .option('--passphrase-file <file>', 'also open the restricted parts (or LOUDER_FIELD_PASSPHRASE)')
    .action(async (dir: string, opts) => {
      const { readFieldFolder } = await import('../../field/field-folder.ts')
      const { readPassphrase } = await import('../field-input.ts')
      const { readFieldPassphraseEnv } = await import('../../config/read-env.ts')
      const passphrase = opts.passphraseFile !== undefined || readFieldPassphraseEnv() ? await readPassphrase(opts.passphraseFile) : undefined
      const { reports, problems } = await readFieldFolder(dir, { passphrase })
      for (const r of reports) process.stdout.write(`ok ${r.file}${r.hasRestricted ? (r.restricted ? ' (restricted part opened)' : ' (restricted part not opened)') : ''}\n`)
      for (const p of problems) process.stderr.write(`${p.file}${p.line === undefined ? '' : `:${p.line}`}: ${p.message}\n`)
      process.stdout.write(`${reports.length} reports, ${problems.length} problems\n`)
      if (problems.length) process.exitCode = 1
    })
}
