import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runOpenssl } from './openssl.ts'
import { timestampRequest } from './timestamp-request.ts'

/** A timestamp authority: where to ask, and the CA certificate(s) its replies must chain to (PEM). */
export interface TimestampAuthority {
  url: string
  caPem: string
}

export interface TimestampReply {
  url: string
  /** The DER TimeStampResp, as the TSA sent it. */
  reply: Buffer
  caPem: string
}

/**
 * Asks every TSA at once for a timestamp over `data` (a checkpoint note) and keeps the replies that verify:
 * imprint and nonce against our request (`-queryfile`), CMS signature and chain to the configured CA. A TSA that
 * is down or answers wrongly is reported in `failures` and does not stop the others: one good timestamp is
 * enough, several guard against one authority's key being compromised later.
 */
export async function requestTimestamps(data: string, authorities: readonly TimestampAuthority[], options: { timeoutMs?: number } = {}): Promise<{ replies: TimestampReply[]; failures: string[] }> {
  const results = await Promise.allSettled(authorities.map((tsa) => requestOne(data, tsa, options.timeoutMs ?? 15_000)))
  const replies: TimestampReply[] = []
  const failures: string[] = []
  results.forEach((r, i) => (r.status === 'fulfilled' ? replies.push(r.value) : failures.push(`${authorities[i]!.url}: ${(r.reason as Error).message}`)))
  return { replies, failures }
}

async function requestOne(data: string, tsa: TimestampAuthority, timeoutMs: number): Promise<TimestampReply> {
  const request = timestampRequest(data)
  const response = await fetch(tsa.url, {
    method: 'POST',
    headers: { 'content-type': 'application/timestamp-query' },
    body: request.der,
    signal: AbortSignal.timeout(timeoutMs),
  })
  if (!response.ok) throw new Error(`the TSA answered HTTP ${response.status}`)
  const reply = Buffer.from(await response.arrayBuffer())
  if (reply.length > 1 << 20) throw new Error('the reply is implausibly large')
  const scratch = await mkdtemp(join(tmpdir(), 'louder-tsq-'))
  try {
    await writeFile(join(scratch, 'req.tsq'), request.der)
    await writeFile(join(scratch, 'reply.tsr'), reply)
    await writeFile(join(scratch, 'ca.pem'), tsa.caPem)
    const r = await runOpenssl(['ts', '-verify', '-queryfile', join(scratch, 'req.tsq'), '-in', join(scratch, 'reply.tsr'), '-CAfile', join(scratch, 'ca.pem')], { timeoutMs })
    if (r.code !== 0 || !/Verification: OK/.test(r.stdout.toString())) throw new Error(`the reply does not verify: ${r.stderr.trim().split('\n')[0] ?? ''}`)
  } finally {
    await rm(scratch, { recursive: true, force: true })
  }
  return { url: tsa.url, reply, caPem: tsa.caPem }
}
