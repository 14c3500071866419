#!/usr/bin/env node
// verify.mjs — checks a Louder court bag, offline, with Node.js 18 or later and nothing else.
//
//   node verify.mjs [BAG_DIRECTORY]        (default: the bag this file is in)
//
// It checks the bag (BagIt 1.0, RFC 8493): every file listed in every manifest and every digest; then
// Louder's proofs: originals against their names and capture records, capture signatures and the device keys'
// standing in the custody log, each custody event's inclusion in a checkpoint signed by the log key,
// consistency between checkpoints, RFC 3161 timestamps (with `openssl`, if installed) and derivations.
// Exit 0: everything holds. Exit 1: each failure is printed as "FILE: STEP: what is wrong".
//
// This file is deliberately independent of Louder's own code (which `louder verify` runs): two separate
// implementations of the same checks. Read it; it is short. VERIFY.md explains each step in plain words.
import { createHash, createPublicKey, verify as verifySignature } from 'node:crypto'
import { createReadStream, lstatSync, readdirSync, readFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = process.argv[2] || dirname(dirname(fileURLToPath(import.meta.url)))
const problems = []
const notes = []
const fail = (file, step, message) => problems.push(`${file}: ${step}: ${message}`)

// ---------- BagIt (RFC 8493) ----------
const ALGS = { md5: 32, sha1: 40, sha224: 56, sha256: 64, sha384: 96, sha512: 128 }
const lines = (text) => {
  const l = text.split(/\r\n|\r|\n/)
  if (l[l.length - 1] === '') l.pop()
  return l
}
const files = new Map()
function walk(rel) {
  for (const name of readdirSync(join(root, rel))) {
    const path = rel ? `${rel}/${name}` : name
    const st = lstatSync(join(root, path))
    if (st.isSymbolicLink()) fail(path, 'files', 'is a symbolic link; a bag holds regular files only')
    else if (st.isDirectory()) walk(path)
    else if (st.isFile()) files.set(path, st.size)
    else fail(path, 'files', 'is not a regular file')
  }
}
function unsafe(path) {
  if (!path || path.startsWith('/') || /^[A-Za-z]:/.test(path) || path.includes('\\') || path.includes('\0')) return true
  return path.split('/').some((s) => s === '' || s === '.' || s === '..')
}
const read = (path) => readFileSync(join(root, path))

async function digestsOf(path, algs) {
  const hashes = algs.map((a) => [a, createHash(a)])
  for await (const chunk of createReadStream(join(root, path), { highWaterMark: 1 << 20 })) for (const [, h] of hashes) h.update(chunk)
  return new Map(hashes.map(([a, h]) => [a, h.digest('hex')]))
}

async function checkBagIt() {
  walk('')
  if (!files.has('bagit.txt')) fail('bagit.txt', 'declaration', 'is missing')
  else {
    const l = lines(read('bagit.txt').toString('utf8'))
    if (l.length !== 2 || !/^BagIt-Version: [0-9]+\.[0-9]+$/.test(l[0]) || !/^Tag-File-Character-Encoding: UTF-8$/i.test(l[1]))
      fail('bagit.txt', 'declaration', 'is not "BagIt-Version: M.N" and "Tag-File-Character-Encoding: UTF-8"')
  }
  const payload = [...files.keys()].filter((p) => p.startsWith('data/'))
  const expected = new Map()
  let manifests = 0
  for (const name of [...files.keys()].filter((p) => /^(tag)?manifest-[a-z0-9]+\.txt$/.test(p))) {
    const tag = name.startsWith('tag')
    const alg = name.replace(/^(tag)?manifest-/, '').replace(/\.txt$/, '')
    if (!ALGS[alg]) {
      fail(name, 'manifest', `algorithm ${alg} is not supported`)
      continue
    }
    if (!tag) manifests++
    const listed = new Set()
    for (const [i, line] of lines(read(name).toString('utf8')).entries()) {
      const m = /^([0-9A-Fa-f]+)[ \t]+(.+)$/.exec(line)
      if (!m || m[1].length !== ALGS[alg]) {
        fail(name, 'manifest', `line ${i + 1} is not "<${alg}> <path>"`)
        continue
      }
      const path = m[2].replace(/%(0A|0a|0D|0d|25)/g, (_, c) => (c === '25' ? '%' : c.toUpperCase() === '0A' ? '\n' : '\r'))
      if (unsafe(path)) fail(name, 'manifest', `line ${i + 1}: path ${JSON.stringify(path)} points outside the bag`)
      else if (listed.has(path)) fail(name, 'manifest', `line ${i + 1}: ${JSON.stringify(path)} is listed twice`)
      else if (tag === path.startsWith('data/')) fail(name, 'manifest', `lists ${JSON.stringify(path)}, which does not belong in this manifest`)
      else if (!files.has(path)) fail(path, 'completeness', `is listed in ${name} but is not in the bag`)
      else {
        listed.add(path)
        if (!expected.has(path)) expected.set(path, [])
        expected.get(path).push([alg, m[1].toLowerCase(), name])
      }
    }
    if (!tag) for (const p of payload) if (!listed.has(p)) fail(p, 'completeness', `is in the payload but not listed in ${name}`)
  }
  if (manifests === 0) fail('manifest-<algorithm>.txt', 'manifest', 'no payload manifest')
  if (files.has('bag-info.txt')) {
    const oxum = lines(read('bag-info.txt').toString('utf8')).find((l) => l.startsWith('Payload-Oxum:'))
    const octets = payload.reduce((s, p) => s + files.get(p), 0)
    if (oxum && oxum.replace('Payload-Oxum:', '').trim() !== `${octets}.${payload.length}`)
      fail('bag-info.txt', 'payload-oxum', `says ${oxum.replace('Payload-Oxum:', '').trim()}; the payload holds ${octets} bytes in ${payload.length} files`)
  }
  const sha256Of = new Map()
  for (const path of [...files.keys()].sort()) {
    const wanted = expected.get(path) || []
    if (!wanted.length && !path.startsWith('data/')) continue
    const algs = [...new Set([...wanted.map((w) => w[0]), 'sha256'])]
    const d = await digestsOf(path, algs)
    for (const [alg, hex, m] of wanted) if (d.get(alg) !== hex) fail(path, 'digest', `${alg} is ${d.get(alg)}, but ${m} says ${hex}`)
    sha256Of.set(path, d.get('sha256'))
  }
  return sha256Of
}

// ---------- Louder's proofs ----------
function canonical(v) {
  if (v === null || typeof v !== 'object') return JSON.stringify(v)
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`
  const keys = Object.keys(v).filter((k) => v[k] !== undefined).sort()
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(v[k])}`).join(',')}}`
}
const sha256 = (b) => createHash('sha256').update(b).digest()
const leafHash = (b) => createHash('sha256').update(Buffer.from([0])).update(b).digest()
const nodeHash = (l, r) => createHash('sha256').update(Buffer.from([1])).update(l).update(r).digest()
const half = (n) => Math.floor(n / 2)
const odd = (n) => n % 2 === 1

// RFC 9162 §2.1.3.2
function inclusionOk(index, size, leaf, proof, root) {
  if (!(index < size)) return false
  let fn = index
  let sn = size - 1
  let r = leaf
  for (const p of proof) {
    if (sn === 0) return false
    if (odd(fn) || fn === sn) {
      r = nodeHash(p, r)
      if (!odd(fn)) while (!odd(fn) && fn !== 0) (fn = half(fn)), (sn = half(sn))
    } else r = nodeHash(r, p)
    fn = half(fn)
    sn = half(sn)
  }
  return sn === 0 && r.equals(root)
}
// RFC 9162 §2.1.4.2
function consistencyOk(first, second, firstRoot, secondRoot, proof) {
  if (first > second) return false
  if (first === second) return proof.length === 0 && firstRoot.equals(secondRoot)
  if (first === 0) return proof.length === 0
  if (proof.length === 0) return false
  let path = proof
  let k = first
  while (k % 2 === 0) k /= 2
  if (k === 1) path = [firstRoot, ...proof]
  let fn = first - 1
  let sn = second - 1
  while (odd(fn)) (fn = half(fn)), (sn = half(sn))
  let fr = path[0]
  let sr = path[0]
  for (const c of path.slice(1)) {
    if (sn === 0) return false
    if (odd(fn) || fn === sn) {
      fr = nodeHash(c, fr)
      sr = nodeHash(c, sr)
      if (!odd(fn)) while (!odd(fn) && fn !== 0) (fn = half(fn)), (sn = half(sn))
    } else sr = nodeHash(sr, c)
    fn = half(fn)
    sn = half(sn)
  }
  return fr.equals(firstRoot) && sr.equals(secondRoot) && sn === 0
}
const hexList = (a) => (Array.isArray(a) ? a.map((h) => (typeof h === 'string' && /^[0-9a-f]{64}$/.test(h) ? Buffer.from(h, 'hex') : Buffer.alloc(0))) : [])
const ed25519 = (raw) => createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(raw).toString('base64url') }, format: 'jwk' })
function sigOk(message, sig, key) {
  try {
    return verifySignature(null, Buffer.from(message), key, sig)
  } catch {
    return false
  }
}
function json(path, step) {
  if (!files.has(path)) return fail(path, step, 'is missing'), null
  try {
    return JSON.parse(read(path).toString('utf8'))
  } catch {
    return fail(path, step, 'is not readable JSON'), null
  }
}

function checkLouder(sha256Of) {
  const manifest = files.has('data/louder.json') ? json('data/louder.json', 'layout') : null
  if (!files.has('data/louder.json')) return notes.push("Louder's proofs are absent: this is a plain BagIt bag (no data/louder.json).")
  if (!manifest || manifest.schema !== 'louder.bag' || manifest.v !== 1) return fail('data/louder.json', 'layout', 'is not a louder.bag version 1 manifest')

  // The log key (C2SP signed-note verifier key): name+keyhash+base64(0x01 ‖ Ed25519 key).
  let log = null
  if (!files.has('data/keys/log.vkey')) fail('data/keys/log.vkey', 'log key', 'is missing')
  else {
    const text = read('data/keys/log.vkey').toString('utf8').trim()
    const m = /^([^+\s]+)\+([0-9a-f]{8})\+(\S+)$/.exec(text)
    const key = m && Buffer.from(m[3], 'base64')
    if (!m || key.length !== 33 || key[0] !== 1) fail('data/keys/log.vkey', 'log key', 'is not an Ed25519 verifier key')
    else if (sha256(Buffer.concat([Buffer.from(m[1]), Buffer.from([10]), key])).subarray(0, 4).toString('hex') !== m[2]) fail('data/keys/log.vkey', 'log key', 'its key hash does not match')
    else {
      log = { name: m[1], hash: Buffer.from(m[2], 'hex'), key: ed25519(key.subarray(1)) }
      notes.push(`Log key: ${text} (compare it with the one Louder publishes at /api/v1/log/key).`)
    }
  }

  const roots = new Map()
  for (const size of manifest.checkpoints || []) {
    const path = `data/checkpoints/${size}.txt`
    if (!files.has(path)) {
      fail(path, 'checkpoint', 'is missing')
      continue
    }
    if (!log) continue
    const note = read(path).toString('utf8')
    const split = note.indexOf('\n\n')
    const body = note.slice(0, split + 1)
    const [origin, n, rootB64] = body.split('\n')
    const sigLine = note.slice(split + 2).split('\n').map((l) => /^\u2014 (\S+) (\S+)$/.exec(l)).find((x) => x && x[1] === log.name)
    const sig = sigLine ? Buffer.from(sigLine[2], 'base64') : Buffer.alloc(0)
    if (split < 0 || origin !== log.name || String(size) !== n || sig.length !== 68 || !sig.subarray(0, 4).equals(log.hash) || !sigOk(body, sig.subarray(4), log.key))
      fail(path, 'checkpoint', 'is not a checkpoint of this size signed by the log key')
    else roots.set(size, Buffer.from(rootB64, 'base64'))
  }
  const sizes = [...(manifest.checkpoints || [])].sort((a, b) => a - b)
  for (let i = 1; i < sizes.length; i++) {
    const path = `data/checkpoints/consistency-${sizes[i - 1]}-${sizes[i]}.json`
    const p = json(path, 'consistency')
    if (p && roots.has(sizes[i - 1]) && roots.has(sizes[i]) && !consistencyOk(sizes[i - 1], sizes[i], roots.get(sizes[i - 1]), roots.get(sizes[i]), hexList(p.hashes)))
      fail(path, 'consistency', `does not prove the log of ${sizes[i]} entries extends the log of ${sizes[i - 1]}`)
  }

  const events = []
  if (!files.has('data/custody/events.jsonl')) fail('data/custody/events.jsonl', 'event', 'is missing')
  else
    for (const [i, line] of read('data/custody/events.jsonl').toString('utf8').split('\n').filter(Boolean).entries()) {
      let e
      try {
        e = JSON.parse(line)
      } catch {
        fail('data/custody/events.jsonl', 'event', `line ${i + 1} is not JSON`)
        continue
      }
      events.push(e)
      const path = `data/custody/proofs/${e.index}.json`
      const p = json(path, 'inclusion')
      if (!p) continue
      if (!roots.has(p.size)) fail(path, 'inclusion', `is against a tree of ${p.size} entries with no valid signed checkpoint in the bag`)
      else if (p.index !== e.index || !inclusionOk(e.index, p.size, leafHash(canonical(e.event)), hexList(p.hashes), roots.get(p.size)))
        fail(path, 'inclusion', `event ${e.index} (line ${i + 1} of data/custody/events.jsonl) is not in the signed log as given`)
    }
  const ofType = (t) => events.filter((e) => e.event && e.event.type === t)

  for (const sha of manifest.originals || []) {
    const path = `data/originals/${sha}`
    if (!sha256Of.has(path)) {
      fail(path, 'original', 'is missing')
      continue
    }
    if (sha256Of.get(path) !== sha) fail(path, 'original', `its SHA-256 is ${sha256Of.get(path)}, not the hash it is named by`)
    if (!events.some((e) => e.event && ['media.received', 'capture.registered'].includes(e.event.type) && e.event.sha256 === sha)) fail(path, 'original', 'no custody event in the bag records it')
    const recPath = `data/captures/${sha}.json`
    if (!files.has(recPath)) continue
    const bytes = read(recPath)
    let record
    try {
      record = JSON.parse(bytes.toString('utf8'))
    } catch {
      fail(recPath, 'capture record', 'is not JSON')
      continue
    }
    if (canonical(record) !== bytes.toString('utf8')) fail(recPath, 'capture record', 'is not in the canonical form the device signed')
    if (record.sha256 !== sha) fail(recPath, 'capture record', `names media ${record.sha256}, not ${sha}`)
    if (record.byteLength !== files.get(path)) fail(recPath, 'capture record', `declares ${record.byteLength} bytes; the original has ${files.get(path)}`)
    const reg = ofType('capture.registered').find((e) => e.event.sha256 === sha)
    if (!reg) {
      fail(recPath, 'capture record', 'no capture.registered event in the bag logs it')
      continue
    }
    if (reg.event.recordSha256 !== sha256(bytes).toString('hex')) fail(recPath, 'capture record', 'is not the record the log registered')
    const keyId = record.device && record.device.keyId
    const keyEvent = ofType('key.registered').find((e) => e.event.keyId === keyId)
    if (!keyEvent) {
      fail(recPath, 'device key', `device key ${keyId} has no key.registered event in the bag`)
      continue
    }
    const sigPath = `data/captures/${sha}.sig`
    if (!files.has(sigPath)) fail(sigPath, 'signature', 'is missing')
    else {
      let ok = false
      try {
        ok = sigOk(bytes, Buffer.from(read(sigPath).toString('utf8').trim(), 'base64'), ed25519(Buffer.from(keyEvent.event.publicKey, 'base64')))
      } catch {}
      if (!ok) fail(sigPath, 'signature', `is not device key ${keyId}'s signature over the capture record`)
    }
    if (keyEvent.index >= reg.index) fail(recPath, 'device key', `key ${keyId} was registered after the capture was logged`)
    if (ofType('key.revoked').some((e) => e.event.keyId === keyId && e.index < reg.index)) fail(recPath, 'device key', `key ${keyId} was revoked before the capture was logged`)
  }

  // Media the inventory does not list would otherwise ride along unchecked (the inventory itself is unsigned).
  const listed = new Set([...(manifest.originals || []).map((s) => `data/originals/${s}`), ...(manifest.derivatives || []).flatMap((d) => [`data/derivatives/${d}`, `data/derivatives/${d}.derivation.json`])])
  for (const path of files.keys())
    if ((path.startsWith('data/originals/') || path.startsWith('data/derivatives/')) && !listed.has(path)) fail(path, 'layout', 'is in the bag but data/louder.json does not list it')

  for (const sha of manifest.derivatives || []) {
    const path = `data/derivatives/${sha}`
    if (!sha256Of.has(path)) {
      fail(path, 'derivative', 'is missing')
      continue
    }
    if (sha256Of.get(path) !== sha) fail(path, 'derivative', `its SHA-256 is ${sha256Of.get(path)}, not the hash it is named by`)
    const recPath = `data/derivatives/${sha}.derivation.json`
    const d = json(recPath, 'lineage')
    if (!d || !d.record) continue
    const parent = d.record.parentSha256
    if (![...(manifest.originals || []), ...(manifest.derivatives || [])].includes(parent)) fail(recPath, 'lineage', `its parent ${parent} is not in the bag`)
    let signed = false
    try {
      signed = !!log && d.keyName === log.name && sigOk(canonical(d.record), Buffer.from(d.signature, 'base64'), log.key)
    } catch {}
    if (!signed) fail(recPath, 'lineage', 'the derivation record is not signed by the log key')
    if (!ofType('derivative.created').some((e) => e.event.sha256 === sha && e.event.parentSha256 === parent)) fail(recPath, 'lineage', 'no derivative.created event records this derivation')
  }

  const openssl = spawnSync('openssl', ['version'], { encoding: 'utf8' }).status === 0
  for (const t of manifest.timestamps || []) {
    const reply = `data/timestamps/${t.size}.${t.n}.tsr`
    const chain = `data/keys/tsa/${t.tsa}.pem`
    const data = `data/checkpoints/${t.size}.txt`
    if (!files.has(reply) || !files.has(chain) || !files.has(data)) {
      fail(reply, 'timestamp', 'the reply, its checkpoint or its TSA chain is missing')
      continue
    }
    // Without openssl, at least the message imprint: the reply must carry the checkpoint's SHA-256.
    if (!read(reply).includes(sha256(read(data)))) fail(reply, 'timestamp', 'does not carry the SHA-256 of its checkpoint')
    else if (!openssl) notes.push(`${reply}: timestamp not checked (needs openssl)`)
    else {
      const r = spawnSync('openssl', ['ts', '-verify', '-in', join(root, reply), '-data', join(root, data), '-CAfile', join(root, chain)], { encoding: 'utf8', timeout: 30000 })
      if (r.status !== 0 || !/Verification: OK/.test(r.stdout)) fail(reply, 'timestamp', `openssl ts -verify refused it: ${(r.stderr || '').split('\n').find((l) => /error|fail/i.test(l)) || 'failed'}`)
    }
  }
  notes.push(`Louder's proofs: ${(manifest.originals || []).length} originals, ${(manifest.derivatives || []).length} derivatives, ${events.length} custody events, ${sizes.length} checkpoints, ${(manifest.timestamps || []).length} timestamps.`)
}

const sha256Of = await checkBagIt()
checkLouder(sha256Of)
for (const n of notes) console.log(n)
for (const p of problems) console.log(p)
console.log(problems.length ? `FAILED: ${problems.length} problem(s).` : 'OK: the bag and its proofs verify.')
process.exitCode = problems.length ? 1 : 0
