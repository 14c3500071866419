import { open } from 'node:fs/promises'
import { readFieldPassphraseEnv } from '../config/read-env.ts'
import { WITNESS_ROLES, type WitnessRole } from '../core/observations/observation.ts'
import type { FieldWitness } from '../field/field-format.ts'

const USES = ['publication', 'partners', 'court'] as const

/**
 * `name|contact|role[|uses]`: contact may be empty; uses, when given, is a comma list of publication, partners,
 * court (`none` for a recorded refusal of all three); left out, no consent is recorded, which counts as none.
 */
export function parseWitness(spec: string): FieldWitness {
  const parts = spec.split('|')
  if (parts.length < 3 || parts.length > 4) throw new Error(`--witness takes "name|contact|role" or "name|contact|role|uses", not ${parts.length} parts`)
  const [name, contact, role, uses] = parts.map((p) => p.trim()) as [string, string, string, string | undefined]
  if (!name) throw new Error('--witness: the name is empty')
  if (!(WITNESS_ROLES as readonly string[]).includes(role)) throw new Error(`--witness: role must be one of ${WITNESS_ROLES.join(', ')}, not ${JSON.stringify(role)}`)
  let consent: FieldWitness['consent'] = null
  if (uses !== undefined) {
    const given = uses === 'none' || uses === '' ? [] : uses.split(',').map((u) => u.trim())
    const unknown = given.filter((u) => !(USES as readonly string[]).includes(u))
    if (unknown.length) throw new Error(`--witness: uses are publication, partners, court (or none), not ${unknown.join(', ')}`)
    consent = { publication: given.includes('publication'), partners: given.includes('partners'), court: given.includes('court') }
  }
  return { name, contact: contact || null, role: role as WitnessRole, consent }
}

/** The passphrase from `file` (its first line), else LOUDER_FIELD_PASSPHRASE; an error when neither gives one. */
export async function readPassphrase(file: string | undefined): Promise<string> {
  let passphrase: string | undefined
  if (file !== undefined) {
    const handle = await open(file, 'r')
    try {
      const buf = Buffer.alloc(4096)
      const { bytesRead } = await handle.read(buf, 0, buf.length, 0)
      passphrase = buf.subarray(0, bytesRead).toString('utf8').split(/\r?\n/)[0]
    } finally {
      await handle.close()
    }
    if (!passphrase) throw new Error(`${file}: the passphrase file's first line is empty`)
  } else passphrase = readFieldPassphraseEnv()
  if (!passphrase) throw new Error('notes and witnesses are kept only encrypted: give --passphrase-file FILE or set LOUDER_FIELD_PASSPHRASE')
  return passphrase
}
