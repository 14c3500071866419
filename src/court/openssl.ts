import { spawn } from 'node:child_process'

/**
 * The one place Louder runs `openssl` for court work (RFC 3161 requests and verification): an argument array,
 * never a shell, so file names are data; a time limit and SIGKILL after it; output capped.
 */
export interface OpensslResult {
  code: number | null
  stdout: Buffer
  stderr: string
}

export class OpensslMissingError extends Error {
  readonly code = 'openssl_missing'
}

export function runOpenssl(args: string[], opts: { timeoutMs?: number; program?: string } = {}): Promise<OpensslResult> {
  const program = opts.program ?? 'openssl'
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    let outBytes = 0
    let stderr = ''
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000)
    child.stdout.on('data', (d: Buffer) => {
      outBytes += d.length
      if (outBytes > 16 << 20) child.kill('SIGKILL')
      else out.push(d)
    })
    child.stderr.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-8192)
    })
    child.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      reject(err.code === 'ENOENT' ? new OpensslMissingError(`${program} is not installed`) : err)
    })
    child.once('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout: Buffer.concat(out), stderr })
    })
  })
}

/** Whether openssl can be run here (verify.mjs and `louder verify` say so rather than pass silently). */
export async function opensslAvailable(program = 'openssl'): Promise<boolean> {
  try {
    return (await runOpenssl(['version'], { program, timeoutMs: 10_000 })).code === 0
  } catch {
    return false
  }
}
