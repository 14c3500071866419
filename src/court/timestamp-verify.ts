import { join } from 'node:path'
import type { TimestampChecker } from '../core/court/louder-proofs.ts'
import { opensslAvailable, runOpenssl } from './openssl.ts'

/**
 * RFC 3161 reply verification by `openssl ts -verify`: the message imprint against the data's digest, the
 * CMS signature, the signer's certificate chain to the CA file, and the timeStamping extended key usage.
 * Returns null (no checker) where openssl is not installed, so the caller reports "not checked".
 */
export async function opensslTimestampChecker(root: string): Promise<TimestampChecker | null> {
  if (!(await opensslAvailable())) return null
  return {
    async check(reply, data, chain) {
      const r = await runOpenssl(['ts', '-verify', '-in', join(root, reply), '-data', join(root, data), '-CAfile', join(root, chain)])
      if (r.code === 0 && /Verification: OK/.test(r.stdout.toString())) return null
      const why = r.stderr.split('\n').find((l) => /error|fail|mismatch/i.test(l)) ?? r.stderr.trim().split('\n')[0] ?? 'failed'
      return `openssl ts -verify refused it: ${why.trim()}`
    },
  }
}
