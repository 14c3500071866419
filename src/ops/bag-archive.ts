import { createReadStream } from 'node:fs'
import { type FileHandle, open, readdir, rename, rm, stat } from 'node:fs/promises'
import { basename, join } from 'node:path'
import { Encrypter } from 'age-encryption'
import { TarWriter } from './tar-stream.ts'

/**
 * A court bag as one file: a plain tar with the bag under one top-level directory (RFC 8493 §4.2 serialisation),
 * optionally age-encrypted to the given recipients, so it can travel by courier or upload. It lives in src/ops/
 * beside the backup because `tar` and `age-encryption` are imported only here (test/architecture.test.ts).
 * Written to `OUT.partial`, fsynced, renamed: a half-written bag never carries the final name.
 */
export async function writeBagArchive(bagDir: string, out: string, options: { recipients?: readonly string[]; mtime?: Date } = {}): Promise<{ bytes: number }> {
  const partial = `${out}.partial`
  const handle = await open(partial, 'wx', 0o600)
  try {
    const recipients = options.recipients ?? []
    const sink = recipients.length ? ageSink(recipients, handle) : plainSink(handle)
    const tar = new TarWriter((chunk) => sink.write(chunk), options.mtime ?? new Date())
    const top = basename(bagDir)
    for (const rel of await filesUnder(bagDir)) {
      const size = (await stat(join(bagDir, rel))).size
      await tar.file(`${top}/${rel}`, size, createReadStream(join(bagDir, rel), { highWaterMark: 1 << 20 }))
    }
    await tar.end()
    const bytes = await sink.finish()
    await handle.close()
    await rename(partial, out)
    return { bytes }
  } catch (err) {
    await handle.close().catch(() => {})
    await rm(partial, { force: true })
    throw err
  }
}

/** Regular files, sorted, so the same bag always makes the same archive. */
async function filesUnder(root: string, rel = ''): Promise<string[]> {
  const out: string[] = []
  for (const entry of (await readdir(join(root, rel), { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const path = rel ? `${rel}/${entry.name}` : entry.name
    if (entry.isDirectory()) out.push(...(await filesUnder(root, path)))
    else if (entry.isFile()) out.push(path)
  }
  return out
}

/** The recipients age would refuse, so a caller can say so before any work is done. */
export function invalidAgeRecipients(recipients: readonly string[]): string[] {
  const encrypter = new Encrypter()
  return recipients.filter((r) => {
    try {
      encrypter.addRecipient(r)
      return false
    } catch {
      return true
    }
  })
}

interface Sink {
  write(chunk: Uint8Array): Promise<void>
  finish(): Promise<number>
}

function plainSink(handle: FileHandle): Sink {
  let bytes = 0
  return {
    async write(chunk) {
      await handle.write(chunk)
      bytes += chunk.length
    },
    async finish() {
      await handle.sync()
      return bytes
    },
  }
}

function ageSink(recipients: readonly string[], handle: FileHandle): Sink {
  const encrypter = new Encrypter()
  for (const r of recipients) {
    try {
      encrypter.addRecipient(r)
    } catch {
      throw new TypeError(`'${r.slice(0, 80)}' is not a valid age recipient`)
    }
  }
  const pipe = new TransformStream<Uint8Array, Uint8Array>()
  const writer = pipe.writable.getWriter()
  let bytes = 0
  const drained = (async () => {
    for await (const chunk of await encrypter.encrypt(pipe.readable)) {
      await handle.write(chunk)
      bytes += chunk.length
    }
  })()
  drained.catch(() => {})
  return {
    write: (chunk) => Promise.race([writer.write(chunk), drained.then(() => {})]),
    async finish() {
      await writer.close()
      await drained
      await handle.sync()
      return bytes
    },
  }
}
