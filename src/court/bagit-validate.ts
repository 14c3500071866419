import { lstat, readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import {
  type BagProblem,
  isSupportedAlgorithm,
  type ManifestAlgorithm,
  manifestAlgorithm,
  parseBagDeclaration,
  parseManifest,
  parsePayloadOxum,
  parseTagFile,
} from '../core/court/bagit-format.ts'
import { fileDigests } from './file-digests.ts'

/** Tag files larger than this are refused unread: a hostile bag must not make the verifier load gigabytes. */
const MAX_TAG_FILE_BYTES = 64 << 20

export interface BagValidation {
  problems: BagProblem[]
  /** Payload paths (`data/…`) with their SHA-256, for the checks that follow BagIt's. */
  payload: Map<string, { sha256: string | null; bytes: number }>
  info: [string, string][]
}

interface Walked {
  files: Map<string, number>
  problems: BagProblem[]
}

/**
 * Every regular file under `root`, by bag-relative path with its size. A symlink or any other special file is
 * a problem and is never followed: a link in a bag could make the verifier vouch for a file outside it.
 */
async function walk(root: string): Promise<Walked> {
  const files = new Map<string, number>()
  const problems: BagProblem[] = []
  const visit = async (rel: string): Promise<void> => {
    for (const entry of await readdir(join(root, rel), { withFileTypes: true })) {
      const path = rel ? `${rel}/${entry.name}` : entry.name
      const info = await lstat(join(root, path))
      if (info.isSymbolicLink()) problems.push({ file: path, step: 'files', message: 'is a symbolic link; a bag holds regular files only' })
      else if (info.isDirectory()) await visit(path)
      else if (info.isFile()) files.set(path, info.size)
      else problems.push({ file: path, step: 'files', message: 'is not a regular file' })
    }
  }
  await visit('')
  return { files, problems }
}

async function readTag(root: string, path: string, size: number, problems: BagProblem[]): Promise<Buffer | null> {
  if (size > MAX_TAG_FILE_BYTES) {
    problems.push({ file: path, step: 'tag file', message: `is ${size} bytes; tag files over ${MAX_TAG_FILE_BYTES} bytes are refused` })
    return null
  }
  return readFile(join(root, path))
}

/**
 * Validates a bag directory against every rule of RFC 8493 that can be checked: the declaration, at least one
 * payload manifest, each manifest's syntax and path safety, completeness both ways (every payload file in every
 * payload manifest, every listed file present), every digest, Payload-Oxum, and tag manifests. Each file is
 * read once, whatever the number of manifests.
 */
export async function validateBag(root: string): Promise<BagValidation> {
  const { files, problems } = await walk(root)
  const payload = new Map<string, { sha256: string | null; bytes: number }>()
  let info: [string, string][] = []

  const declaration = files.get('bagit.txt')
  if (declaration === undefined) problems.push({ file: 'bagit.txt', step: 'declaration', message: 'is missing; every bag has one' })
  else {
    const bytes = await readTag(root, 'bagit.txt', declaration, problems)
    const parsed = bytes && parseBagDeclaration(bytes)
    if (parsed && 'error' in parsed) problems.push({ file: 'bagit.txt', step: 'declaration', message: parsed.error })
  }
  if (![...files.keys()].some((p) => p.startsWith('data/')) && !(await isDirectory(join(root, 'data'))))
    problems.push({ file: 'data/', step: 'payload', message: 'the payload directory is missing' })

  const payloadFiles = [...files.keys()].filter((p) => p.startsWith('data/'))
  const manifests = [...files.keys()].filter((p) => manifestAlgorithm(p, 'manifest') !== null)
  const tagManifests = [...files.keys()].filter((p) => manifestAlgorithm(p, 'tagmanifest') !== null)
  if (manifests.length === 0) problems.push({ file: 'manifest-<algorithm>.txt', step: 'manifest', message: 'no payload manifest; a bag has at least one' })

  // What each file must hash to, per algorithm, and who said so.
  const expected = new Map<string, { alg: ManifestAlgorithm; digest: string; manifest: string }[]>()
  const expect = (path: string, alg: ManifestAlgorithm, digest: string, manifest: string) => {
    const list = expected.get(path) ?? []
    list.push({ alg, digest, manifest })
    expected.set(path, list)
  }

  const readManifest = async (manifest: string, kind: 'manifest' | 'tagmanifest') => {
    const alg = manifestAlgorithm(manifest, kind)!
    if (!isSupportedAlgorithm(alg)) {
      problems.push({ file: manifest, step: 'manifest', message: `algorithm ${alg} is not supported` })
      return
    }
    const bytes = await readTag(root, manifest, files.get(manifest)!, problems)
    if (!bytes) return
    const { entries, errors } = parseManifest(bytes.toString('utf8'), alg)
    for (const e of errors) problems.push({ file: manifest, step: 'manifest', message: e })
    const listed = new Set<string>()
    for (const entry of entries) {
      listed.add(entry.path)
      if (kind === 'manifest' && !entry.path.startsWith('data/')) {
        problems.push({ file: manifest, step: 'manifest', message: `lists ${JSON.stringify(entry.path)}, which is not under data/` })
        continue
      }
      if (kind === 'tagmanifest' && entry.path.startsWith('data/')) {
        problems.push({ file: manifest, step: 'manifest', message: `lists payload file ${JSON.stringify(entry.path)}; a tag manifest lists tag files` })
        continue
      }
      if (!files.has(entry.path)) {
        problems.push({ file: entry.path, step: 'completeness', message: `is listed in ${manifest} but is not in the bag` })
        continue
      }
      expect(entry.path, alg, entry.digest, manifest)
    }
    // RFC 8493 §3: every payload file is listed in every payload manifest.
    if (kind === 'manifest')
      for (const path of payloadFiles) if (!listed.has(path)) problems.push({ file: path, step: 'completeness', message: `is in the payload but not listed in ${manifest}` })
  }
  for (const m of manifests) await readManifest(m, 'manifest')
  for (const m of tagManifests) await readManifest(m, 'tagmanifest')

  const infoSize = files.get('bag-info.txt')
  if (infoSize !== undefined) {
    const bytes = await readTag(root, 'bag-info.txt', infoSize, problems)
    const parsed = bytes && parseTagFile(bytes.toString('utf8'))
    if (parsed && 'error' in parsed) problems.push({ file: 'bag-info.txt', step: 'bag-info', message: parsed.error })
    else if (parsed) info = parsed.tags
  }
  const oxum = info.find(([label]) => label === 'Payload-Oxum')
  if (oxum) {
    const declared = parsePayloadOxum(oxum[1])
    const octets = payloadFiles.reduce((sum, p) => sum + BigInt(files.get(p)!), 0n)
    if (!declared) problems.push({ file: 'bag-info.txt', step: 'payload-oxum', message: `Payload-Oxum ${JSON.stringify(oxum[1])} is not "<octets>.<files>"` })
    else if (declared.octets !== octets || declared.files !== BigInt(payloadFiles.length))
      problems.push({ file: 'bag-info.txt', step: 'payload-oxum', message: `declares ${declared.octets} bytes in ${declared.files} files; the payload holds ${octets} bytes in ${payloadFiles.length} files` })
  }

  // Payload files are hashed with SHA-256 even when no manifest asks for it: Louder's own checks use it.
  for (const path of [...files.keys()].sort()) {
    const wanted = expected.get(path) ?? []
    const isPayload = path.startsWith('data/')
    if (wanted.length === 0 && !isPayload) continue
    const algorithms = [...new Set([...wanted.map((w) => w.alg), ...(isPayload ? ['sha256'] : [])])]
    const { digests, bytes } = await fileDigests(join(root, path), algorithms)
    for (const w of wanted)
      if (digests.get(w.alg) !== w.digest) problems.push({ file: path, step: 'digest', message: `${w.alg} is ${digests.get(w.alg)}, but ${w.manifest} says ${w.digest}` })
    if (isPayload) payload.set(path, { sha256: digests.get('sha256') ?? null, bytes })
  }
  return { problems, payload, info }
}

async function isDirectory(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isDirectory()
  } catch {
    return false
  }
}
