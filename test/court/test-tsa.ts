/**
 * A real RFC 3161 timestamp authority for tests: a throw-away CA, a TSA certificate under it (extendedKeyUsage
 * critical timeStamping, as RFC 3161 §2.3 requires), and `openssl ts -reply` behind a loopback HTTP endpoint.
 * No `certs =` in its config: the signer certificate goes in once (certReq). A second copy would sit in the
 * CMS certificate set, which nothing signs, so a flipped byte there would (rightly) not fail verification.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface TestTsa {
  url: string
  caPem: string
  /** The TSA's own certificate (signed by the CA). */
  certPem: string
  dir: string
  close(): Promise<void>
}

const ossl = (args: string[], cwd: string) => execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] })

/** A CA and a TSA certificate under it, in `dir`. */
export function makeTsaCertificates(dir: string, name = 'Test'): void {
  ossl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', `/CN=${name} Root CA`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir)
  ossl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'tsa.key', '-out', 'tsa.csr', '-subj', `/CN=${name} TSA`], dir)
  writeFileSync(join(dir, 'tsa.ext'), 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=critical,timeStamping\n')
  ossl(['x509', '-req', '-in', 'tsa.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'tsa.pem', '-days', '2', '-extfile', 'tsa.ext'], dir)
  writeFileSync(join(dir, 'serial'), '01\n')
  writeFileSync(
    join(dir, 'tsa.cnf'),
    [
      '[ tsa ]',
      'default_tsa = tsa1',
      '[ tsa1 ]',
      `dir = ${dir}`,
      '$dir/serial'.replace('$dir', 'serial = $dir'),
      'signer_cert = $dir/tsa.pem',
      'signer_key = $dir/tsa.key',
      'signer_digest = sha256',
      'default_policy = 1.2.3.4.1',
      'digests = sha256, sha512',
      'accuracy = secs:1',
      'ordering = yes',
      'tsa_name = yes',
      'ess_cert_id_chain = no',
      'ess_cert_id_alg = sha256',
      '',
    ].join('\n'),
  )
}

export async function startTestTsa(name = 'Test'): Promise<TestTsa> {
  const dir = mkdtempSync(join(tmpdir(), 'louder-tsa-'))
  makeTsaCertificates(dir, name)
  let n = 0
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      try {
        const q = join(dir, `q${++n}.tsq`)
        writeFileSync(q, Buffer.concat(chunks))
        ossl(['ts', '-reply', '-config', 'tsa.cnf', '-queryfile', q, '-out', `${q}.tsr`], dir)
        res.writeHead(200, { 'content-type': 'application/timestamp-reply' })
        res.end(readFileSync(`${q}.tsr`))
      } catch (err) {
        res.writeHead(500)
        res.end(String(err))
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  return {
    url: `http://127.0.0.1:${port}/tsa`,
    caPem: readFileSync(join(dir, 'ca.pem'), 'utf8'),
    certPem: readFileSync(join(dir, 'tsa.pem'), 'utf8'),
    dir,
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()))
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
