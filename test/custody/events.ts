/** Plausible custody events for tests and the bench: every type, deterministic from a number. */
import { createHash } from 'node:crypto'
import type { CustodyEvent } from '../../src/core/custody/custody-event.ts'

const sha = (s: string) => createHash('sha256').update(s).digest('hex')

export function sampleEvent(n: number): CustodyEvent {
  const base = { v: 1 as const, at: new Date(1_700_000_000_000 + n * 1000).toISOString(), actor: `user:0190000${n % 10}-0000-7000-8000-000000000000` }
  switch (n % 8) {
    case 0:
      return { ...base, type: 'capture.registered', sha256: sha(`o${n}`), recordSha256: sha(`r${n}`), deviceKeyId: `dev-${n % 17}` }
    case 1:
      return { ...base, type: 'media.received', sha256: sha(`o${n}`), byteLength: 1000 + n, mediaType: 'image/jpeg', receivedAt: base.at }
    case 2:
      return { ...base, type: 'key.registered', keyId: `dev-${n}`, publicKey: Buffer.alloc(32, n % 256).toString('base64') }
    case 3:
      return { ...base, type: 'key.revoked', keyId: `dev-${n}`, reason: n % 2 ? 'device lost' : null }
    case 4:
      return { ...base, type: 'derivative.created', sha256: sha(`d${n}`), parentSha256: sha(`o${n}`), operations: ['resize:1600', 'strip-metadata'] }
    case 5:
      return { ...base, type: 'access', sha256: sha(`o${n}`), purpose: 'court request ✓ ü' }
    case 6:
      return { ...base, type: 'export.created', exportId: `exp-${n}`, sha256: sha(`e${n}`), items: n % 50 }
    default:
      return { ...base, type: 'transfer', sha256: sha(`o${n}`), from: 'Louder', to: 'ICC OTP', note: null }
  }
}
