/**
 * Signed checkpoints, checked the way an outside verifier would: from the note text and the verifier key
 * string alone, with node:crypto and nothing of Louder's (C2SP signed-note.md and tlog-checkpoint.md).
 */
import { createHash } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { checkpointBody, parseCheckpointBody, signNote, verifierKey } from '../../src/core/custody/checkpoint.ts'
import { appendCustodyEvents, rootAt } from '../../src/core/custody/custody-log.ts'
import { currentCheckpoint, signCheckpoint } from '../../src/core/custody/sign-checkpoint.ts'
import { sampleEvent } from './events.ts'
import { memoryCustodyLog } from './memory-log.ts'
import { testSigner, verifyNote } from './note-verifier.ts'

describe('signed checkpoints', () => {
  it('is a C2SP checkpoint an outside verifier accepts, and refuses when anything changes', () => {
    const signer = testSigner()
    const root = createHash('sha256').update('root').digest()
    const note = signNote(checkpointBody(signer.name, 42, root), signer)
    expect(note).toMatch(/^louder\.example\.org\/log\n42\n[A-Za-z0-9+/]{43}=\n\n\u2014 louder\.example\.org\/log [A-Za-z0-9+/]{91}=?=?\n$/)
    const vkey = verifierKey(signer.name, signer.publicKey)
    expect(vkey).toMatch(/^louder\.example\.org\/log\+[0-9a-f]{8}\+[A-Za-z0-9+/]{44}$/)
    expect(verifyNote(note, vkey)).toEqual({ origin: signer.name, size: 42, root })
    expect(parseCheckpointBody(note)).toEqual({ origin: signer.name, size: 42, root })

    expect(() => verifyNote(note.replace('\n42\n', '\n43\n'), vkey)).toThrow('bad signature')
    expect(() => verifyNote(note, verifierKey(signer.name, testSigner().publicKey))).toThrow()
    expect(() => verifyNote(note, vkey.replace(/\+[0-9a-f]{8}\+/, '+00000000+'))).toThrow('hash')
  })

  it('refuses origins a note cannot carry', () => {
    expect(() => checkpointBody('has space/log', 1, Buffer.alloc(32))).toThrow()
    expect(() => checkpointBody('a+b', 1, Buffer.alloc(32))).toThrow()
  })

  it('signs the log as it stands, once per size, and keeps it', async () => {
    const log = memoryCustodyLog()
    const signer = testSigner()
    const empty = await signCheckpoint(log, signer, 1000)
    expect(verifyNote(empty.note, verifierKey(signer.name, signer.publicKey))).toMatchObject({ size: 0 })
    await appendCustodyEvents(log, [0, 1, 2, 3, 4].map(sampleEvent))
    const five = await signCheckpoint(log, signer, 2000)
    expect(verifyNote(five.note, verifierKey(signer.name, signer.publicKey))).toEqual({ origin: signer.name, size: 5, root: await rootAt(log, 5) })
    expect(await signCheckpoint(log, signer, 3000)).toEqual(five)
    // Within the interval the latest is published even if the log grew; after it, a new one is signed.
    await appendCustodyEvents(log, [sampleEvent(5)])
    expect((await currentCheckpoint(log, signer, 10_000, 5000)).size).toBe(5)
    expect((await currentCheckpoint(log, signer, 10_000, 12_001)).size).toBe(6)
  })
})
