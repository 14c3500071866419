import { spawn } from 'node:child_process'

export interface ProcessResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: Buffer
  stderr: string
  timedOut: boolean
}

/**
 * Runs a program to completion with an argument array (never a shell: file names are data) and a time
 * limit after which it is killed with SIGKILL (a decoder stuck on hostile input may ignore SIGTERM).
 * Output beyond `maxStdout` bytes kills it too, so a probe cannot be made to fill memory.
 */
export function runProcess(program: string, args: string[], opts: { timeoutMs: number; maxStdout?: number }): Promise<ProcessResult> {
  const maxStdout = opts.maxStdout ?? 4 * 1024 * 1024
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, { stdio: ['ignore', 'pipe', 'pipe'] })
    const out: Buffer[] = []
    let outBytes = 0
    let stderr = ''
    let timedOut = false
    const timer = setTimeout(() => {
      timedOut = true
      child.kill('SIGKILL')
    }, opts.timeoutMs)
    child.stdout.on('data', (d: Buffer) => {
      outBytes += d.length
      if (outBytes > maxStdout) child.kill('SIGKILL')
      else out.push(d)
    })
    child.stderr.on('data', (d: Buffer) => {
      // Keep the tail only: the useful part of a decoder's complaint is at the end.
      stderr = (stderr + d.toString()).slice(-16_384)
    })
    child.once('error', (err) => {
      clearTimeout(timer)
      reject(err)
    })
    child.once('close', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout: Buffer.concat(out), stderr, timedOut })
    })
  })
}
