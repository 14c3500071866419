import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { pipeline } from 'node:stream/promises'
import { Parser, type ReadEntry } from 'tar'

/**
 * Unpacks a serialised bag (a tar, RFC 8493 §4.2) into `into` for verification. Any tar a clerk's `tar -cf`
 * makes is accepted (directory entries, pax headers); links, devices and FIFOs are refused, and every path is
 * checked by `isSafe` before anything is written, so a hostile tar cannot write outside `into` or make the
 * verifier vouch for a file elsewhere. It lives in src/ops/ because `tar` is imported only here.
 */
export async function unpackBagTar(tarPath: string, into: string, isSafe: (path: string) => string | null): Promise<{ path: string; problem: string } | null> {
  let refused: { path: string; problem: string } | null = null
  const writes: Promise<void>[] = []
  const parser = new Parser({
    strict: true,
    onReadEntry(entry: ReadEntry) {
      const path = entry.path.replace(/\/+$/, '')
      const unsafe = path === '' ? 'is empty' : isSafe(path)
      if (refused || unsafe || !['File', 'OldFile', 'Directory'].includes(entry.type)) {
        refused ??= { path: entry.path, problem: unsafe ? `path ${unsafe}` : `is a ${entry.type}; a bag holds regular files only` }
        entry.resume()
        return
      }
      if (entry.type === 'Directory') {
        entry.resume()
        writes.push(mkdir(join(into, path), { recursive: true }).then(() => {}))
        return
      }
      const target = join(into, path)
      entry.pause()
      writes.push(
        mkdir(dirname(target), { recursive: true }).then(() => pipeline(entry as unknown as NodeJS.ReadableStream, createWriteStream(target, { flags: 'wx' }))),
      )
    },
  })
  await pipeline(createReadStream(tarPath), parser as unknown as NodeJS.WritableStream)
  await Promise.all(writes)
  return refused
}
