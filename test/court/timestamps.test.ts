import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { requestTimestamps } from '../../src/court/timestamp-client.ts'
import { opensslTimestampChecker } from '../../src/court/timestamp-verify.ts'
import { startTestTsa, type TestTsa } from './test-tsa.ts'

const NOTE = 'louder.example.org/log\n5\nq6E6dYmOQ7R1NldxH1G9jzS4d2PaQ3D5vT7VkYF+9wQ=\n\n\u2014 louder.example.org/log AAAAAA==\n'

describe('RFC 3161 timestamps against a real OpenSSL TSA', () => {
  let a: TestTsa
  let b: TestTsa
  let dir: string
  beforeAll(async () => {
    ;[a, b] = await Promise.all([startTestTsa('Alpha'), startTestTsa('Beta')])
    dir = await mkdtemp(join(tmpdir(), 'louder-ts-'))
  })
  afterAll(async () => {
    await Promise.all([a?.close(), b?.close()])
    await rm(dir, { recursive: true, force: true })
  })

  async function check(reply: Buffer, data: string, ca: string): Promise<string | null> {
    await writeFile(join(dir, 'r.tsr'), reply)
    await writeFile(join(dir, 'd.txt'), data)
    await writeFile(join(dir, 'ca.pem'), ca)
    return (await opensslTimestampChecker(dir))!.check('r.tsr', 'd.txt', 'ca.pem')
  }

  it('gets verified replies from several TSAs at once, and reports one that is down', async () => {
    const { replies, failures } = await requestTimestamps(NOTE, [a, b, { url: 'http://127.0.0.1:1/none', caPem: a.caPem }])
    expect(replies.map((r) => r.url)).toEqual([a.url, b.url])
    expect(failures).toHaveLength(1)
    expect(await check(replies[0]!.reply, NOTE, a.caPem)).toBeNull()
    expect(await check(replies[1]!.reply, NOTE, b.caPem)).toBeNull()
  })

  it('fails a reply checked with another TSA chain, over other data, or with any byte altered', async () => {
    const { replies } = await requestTimestamps(NOTE, [a])
    const reply = replies[0]!.reply
    expect(await check(reply, NOTE, b.caPem)).toMatch(/openssl ts -verify refused/)
    expect(await check(reply, `${NOTE}x`, a.caPem)).not.toBeNull()
    // A few positions: in the status, the TSTInfo (imprint, time) and the signature.
    for (const at of [10, Math.floor(reply.length / 3), Math.floor(reply.length / 2), reply.length - 5]) {
      const bad = Buffer.from(reply)
      bad[at] = bad[at]! ^ 0x01
      expect(await check(bad, NOTE, a.caPem), `byte ${at}`).not.toBeNull()
    }
  })

  it('refuses a TSA whose reply does not chain to the configured CA', async () => {
    const { replies, failures } = await requestTimestamps(NOTE, [{ url: a.url, caPem: b.caPem }])
    expect(replies).toEqual([])
    expect(failures[0]).toMatch(/does not verify/)
  })
})
