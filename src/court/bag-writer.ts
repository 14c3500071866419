import { createHash } from 'node:crypto'
import { mkdir, open, writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { BAG_DECLARATION, type ManifestEntry, renderManifest, tagLine, unsafePathReason } from '../core/court/bagit-format.ts'

/** The payload manifests Louder writes: SHA-256 for today's tools, SHA-512 as a second, independent digest. */
const ALGORITHMS = ['sha256', 'sha512'] as const

export interface BagInfo {
  organisation: string
  contact: string
  externalIdentifier: string
  description?: string
  baggingDate: Date
}

/**
 * Writes a BagIt 1.0 bag into an empty directory. Payload files are hashed while they are written (one pass,
 * every algorithm), each fsynced, so the manifests describe exactly the bytes on disk.
 */
export class BagWriter {
  readonly root: string
  readonly #entries = new Map<string, Record<(typeof ALGORITHMS)[number], string>>()
  #octets = 0

  constructor(root: string) {
    this.root = root
  }

  /** Adds `data/<path>`; `path` is relative to data/. */
  async add(path: string, body: Uint8Array | string | AsyncIterable<Uint8Array>): Promise<void> {
    const rel = `data/${path}`
    const unsafe = unsafePathReason(rel)
    if (unsafe) throw new TypeError(`bag path ${rel} ${unsafe}`)
    if (this.#entries.has(rel)) throw new TypeError(`bag path ${rel} added twice`)
    const file = join(this.root, rel)
    await mkdir(dirname(file), { recursive: true })
    const hashes = ALGORITHMS.map((alg) => createHash(alg))
    const handle = await open(file, 'wx', 0o644)
    try {
      const pieces = typeof body === 'string' ? [Buffer.from(body, 'utf8')] : body instanceof Uint8Array ? [body] : body
      for await (const piece of pieces) {
        for (const h of hashes) h.update(piece)
        await handle.write(piece)
        this.#octets += piece.length
      }
      await handle.sync()
    } finally {
      await handle.close()
    }
    this.#entries.set(rel, { sha256: hashes[0]!.digest('hex'), sha512: hashes[1]!.digest('hex') })
  }

  /** Writes the declaration, bag-info.txt, the manifests and the tag manifests; returns the SHA-256 of tagmanifest-sha256.txt. */
  async finish(info: BagInfo): Promise<string> {
    const tags: Record<string, string> = {}
    tags['bagit.txt'] = BAG_DECLARATION
    tags['bag-info.txt'] =
      tagLine('Source-Organization', info.organisation) +
      tagLine('Contact-Name', info.contact) +
      tagLine('External-Identifier', info.externalIdentifier) +
      (info.description ? tagLine('External-Description', info.description) : '') +
      tagLine('Bagging-Date', info.baggingDate.toISOString().slice(0, 10)) +
      tagLine('Payload-Oxum', `${this.#octets}.${this.#entries.size}`) +
      tagLine('Bag-Software-Agent', 'Louder (louder export)')
    for (const alg of ALGORITHMS) tags[`manifest-${alg}.txt`] = renderManifest([...this.#entries].map(([path, d]) => ({ path, digest: d[alg] })))
    for (const [name, text] of Object.entries(tags)) await writeFile(join(this.root, name), text)
    let bagHash = ''
    for (const alg of ALGORITHMS) {
      const entries: ManifestEntry[] = Object.entries(tags).map(([path, text]) => ({ path, digest: createHash(alg).update(text).digest('hex') }))
      const text = renderManifest(entries)
      await writeFile(join(this.root, `tagmanifest-${alg}.txt`), text)
      if (alg === 'sha256') bagHash = createHash('sha256').update(text).digest('hex')
    }
    return bagHash
  }
}
