/**
 * The outbox's SyncTransport over HTTP (docs/field-sync.md): node:http with a keep-alive agent, so the batch
 * and the uploads reuse connections instead of paying a TCP (and TLS) handshake per request over a
 * 600 ms link. File bodies stream from an offset with back-pressure; a request that makes no progress (no
 * byte written or read) for `stallMs` is aborted, and the outbox resumes it from the server's offset. An upload
 * whose body is all written may still be draining from the socket buffers and the modem's queue over a slow
 * link (megabytes at 56 KB/s), so before aborting one the transport asks HEAD /media for the upload's recorded
 * offset on another connection (the server records it at least every 5 s while bytes arrive): if it grew since
 * the last look, the bytes are still arriving and the wait goes on.
 */
import { createReadStream } from 'node:fs'
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type OutgoingHttpHeaders } from 'node:http'
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https'
import { type BatchAnswer, type BatchRequestItem, CAPTURE_REFUSED, type SyncTransport, SyncTransportError } from '../core/sync/outbox.ts'

export interface HttpTransportOptions {
  server: string
  token: string
  /** Abort a request after this long without progress (default 30 s). */
  stallMs?: number
  userAgent?: string
}

export interface HttpTransport extends SyncTransport {
  close(): void
}

interface Answer {
  status: number
  headers: IncomingMessage['headers']
  body: string
}

const TUS = { 'tus-resumable': '1.0.0' }
const TRANSIENT = new Set([408, 409, 425, 429, 500, 502, 503, 504])
const MAX_ANSWER = 8 * 1024 * 1024

export function createHttpTransport(options: HttpTransportOptions): HttpTransport {
  const base = new URL(options.server.endsWith('/') ? options.server : `${options.server}/`)
  const https = base.protocol === 'https:'
  if (!https && base.protocol !== 'http:') throw new Error(`--server must be an http:// or https:// URL, not ${base.protocol}`)
  // The outbox bounds the requests at once (up to twice --max-in-flight, with small uploads, plus stall probes);
  // a lower bound here would queue them inside the agent while their stall timers run.
  const agent = https ? new HttpsAgent({ keepAlive: true, maxSockets: 64 }) : new HttpAgent({ keepAlive: true, maxSockets: 64 })
  const stallMs = options.stallMs ?? 30_000
  const resolve = (path: string) => new URL(path.replace(/^\//, ''), base)

  /**
   * One request; `body` is a buffer or a file range. Progress on either side resets the stall timer; for an
   * upload, `probe` (the server's offset for it, asked on another connection) counts as progress when it grew.
   */
  const send = (method: string, url: URL, headers: OutgoingHttpHeaders, signal: AbortSignal, body?: Buffer | { path: string; start: number; end: number; onBytes(n: number): void; probe?: () => Promise<number> }): Promise<Answer> =>
    new Promise<Answer>((done, reject) => {
      if (signal.aborted) return reject(new SyncTransportError('interrupted', { transient: true }))
      const make = https ? httpsRequest : httpRequest
      const req = make(url, { method, agent, headers: { authorization: `Bearer ${options.token}`, 'user-agent': options.userAgent ?? 'louder-sync', ...headers } })
      let timer: NodeJS.Timeout | undefined
      const fail = (err: Error) => {
        finished = true
        clearTimeout(timer)
        signal.removeEventListener('abort', onAbort)
        reject(err)
      }
      const probe = body !== undefined && !Buffer.isBuffer(body) ? body.probe : undefined
      let seenOffset = body !== undefined && !Buffer.isBuffer(body) ? body.start : 0
      let finished = false
      let file: ReturnType<typeof createReadStream> | null = null
      let fileEnded = false
      const stalled = () => req.destroy(new SyncTransportError(`no progress for ${Math.round(stallMs / 1000)} s (${method} ${url.pathname})`, { transient: true, code: 'stalled' }))
      const progress = () => {
        clearTimeout(timer)
        timer = setTimeout(() => {
          if (!probe) return stalled()
          probe().then(
            (offset) => {
              if (finished) return
              if (offset > seenOffset) {
                seenOffset = offset
                progress()
              } else stalled()
            },
            () => finished || stalled(),
          )
        }, stallMs)
      }
      const onAbort = () => req.destroy(new SyncTransportError('interrupted', { transient: true }))
      signal.addEventListener('abort', onAbort, { once: true })
      progress()
      req.on('error', (err) => fail(err instanceof SyncTransportError ? err : new SyncTransportError(`${method} ${url.pathname}: ${(err as NodeJS.ErrnoException).code ?? err.message}`, { transient: true })))
      req.on('response', (res) => {
        // Refused before the body was all sent (a bad declaration, an unknown device): stop sending it over the
        // link; the connection cannot be reused with its body unfinished, so it closes once the answer is read.
        if ((res.statusCode ?? 0) >= 400 && file !== null && !fileEnded) {
          file.destroy()
          res.once('end', () => req.destroy())
        }
        const chunks: Buffer[] = []
        let size = 0
        res.on('data', (chunk: Buffer) => {
          progress()
          size += chunk.length
          if (size <= MAX_ANSWER) chunks.push(chunk)
        })
        res.on('error', (err) => fail(new SyncTransportError(`${method} ${url.pathname}: ${err.message}`, { transient: true })))
        res.on('end', () => {
          finished = true
          clearTimeout(timer)
          signal.removeEventListener('abort', onAbort)
          done({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') })
        })
      })
      if (body === undefined) return void req.end()
      if (Buffer.isBuffer(body)) return void req.end(body)
      if (body.end <= body.start) return void req.end()
      file = createReadStream(body.path, { start: body.start, end: body.end - 1, highWaterMark: 64 * 1024 })
      file.on('error', (err) => req.destroy(new SyncTransportError(`${body.path}: ${(err as NodeJS.ErrnoException).code ?? err.message}`, { transient: false, code: 'source' })))
      file.on('data', (chunk) => {
        const bytes = chunk as Buffer
        // Counted when handed to the socket: what a cut can have lost is at most what the kernel still held.
        const more = req.write(bytes, () => progress())
        body.onBytes(bytes.length)
        if (!more) {
          file.pause()
          req.once('drain', () => file.resume())
        }
      })
      file.on('end', () => {
        fileEnded = true
        req.end()
      })
      req.on('close', () => file?.destroy())
    })

  const problemOf = (a: Answer): { code: string | null; detail: string } => {
    try {
      const p = JSON.parse(a.body) as { code?: unknown; detail?: unknown; title?: unknown }
      return { code: typeof p.code === 'string' ? p.code : null, detail: typeof p.detail === 'string' ? p.detail : typeof p.title === 'string' ? p.title : `HTTP ${a.status}` }
    } catch {
      return { code: null, detail: `HTTP ${a.status}` }
    }
  }
  const refuse = (what: string, a: Answer): SyncTransportError => {
    const { code, detail } = problemOf(a)
    return new SyncTransportError(`${what}: ${a.status} ${code ?? ''} ${detail}`.replace(/\s+/g, ' ').trim(), { transient: TRANSIENT.has(a.status), status: a.status, code })
  }
  /** A creation refused for the capture record it carried: the device (403 aside, 409 device_*) or the record (400 naming it). */
  const refusedForCapture = (a: Answer): boolean => {
    const { code } = problemOf(a)
    if (a.status === 403 || (a.status === 409 && code?.startsWith('device_'))) return true
    return a.status === 400 && a.body.includes('/headers/upload-metadata/capture')
  }
  const offsetOf = (a: Answer): number => {
    const value = Number(a.headers['upload-offset'])
    if (!Number.isSafeInteger(value) || value < 0) throw new SyncTransportError(`the server sent no valid Upload-Offset (status ${a.status})`, { transient: true })
    return value
  }
  const shaOf = (a: Answer): string | null => {
    const v = a.headers['louder-media-sha256']
    return typeof v === 'string' ? v : null
  }
  const metadata = (pairs: Record<string, string>) =>
    Object.entries(pairs)
      .map(([k, v]) => `${k} ${Buffer.from(v, 'utf8').toString('base64')}`)
      .join(',')

  const transport: HttpTransport = {
    async sendBatch(items: BatchRequestItem[], signal: AbortSignal): Promise<BatchAnswer[]> {
      const body = Buffer.from(JSON.stringify({ items }), 'utf8')
      const a = await send('POST', resolve('api/v1/sync/batch'), { 'content-type': 'application/json', 'content-length': body.length }, signal, body)
      if (a.status !== 200) throw refuse('POST /sync/batch', a)
      let parsed: { results?: { status?: unknown; body?: unknown; problem?: { code?: string; detail?: string; title?: string } }[] }
      try {
        parsed = JSON.parse(a.body)
      } catch {
        throw new SyncTransportError('POST /sync/batch: the answer is not JSON', { transient: true })
      }
      if (!Array.isArray(parsed.results)) throw new SyncTransportError('POST /sync/batch: the answer has no results', { transient: true })
      return parsed.results.map((r) => ({ status: typeof r.status === 'number' ? r.status : 0, body: r.body, problem: r.problem }))
    },

    async headMedia(sha256, signal) {
      const a = await send('HEAD', resolve(`api/v1/media/${sha256}`), {}, signal)
      if (a.status === 200) return { held: true }
      if (a.status !== 404) throw refuse(`HEAD /media/${sha256.slice(0, 12)}…`, a)
      const location = a.headers['louder-upload-location']
      if (typeof location !== 'string') return { held: false, upload: null }
      return { held: false, upload: { url: resolve(location).href, offset: offsetOf(a) } }
    },

    async createUpload(req) {
      const declared: Record<string, string> = { sha256: req.sha256, filename: req.filename }
      if (req.capture !== undefined) declared.capture = JSON.stringify(req.capture)
      const headers: OutgoingHttpHeaders = { ...TUS, 'upload-length': req.length, 'upload-metadata': metadata(declared) }
      let body: Parameters<typeof send>[4]
      if (req.withBody) {
        headers['content-type'] = 'application/offset+octet-stream'
        headers['content-length'] = req.length
        // The upload's address comes only with the answer; HEAD /media names our unfinished upload and its offset.
        const probe = async () => {
          const held = await transport.headMedia(req.sha256, req.signal)
          return held.held ? Infinity : (held.upload?.offset ?? 0)
        }
        body = { path: req.source, start: 0, end: req.length, onBytes: req.onBytes, probe }
      } else headers['content-length'] = 0
      const a = await send('POST', resolve('api/v1/uploads/'), headers, req.signal, body)
      if (a.status !== 201) {
        const refused = refuse('POST /uploads', a)
        if (req.capture !== undefined && refusedForCapture(a)) throw new SyncTransportError(refused.message, { transient: false, status: a.status, code: CAPTURE_REFUSED })
        throw refused
      }
      const location = a.headers.location
      if (typeof location !== 'string') throw new SyncTransportError('POST /uploads: no Location in the answer', { transient: true })
      return {
        url: resolve(location).href,
        offset: req.withBody ? offsetOf(a) : Number(a.headers['upload-offset'] ?? 0) || 0,
        sha256: shaOf(a),
        captureLogged: typeof a.headers['louder-capture-record'] === 'string',
      }
    },

    async headUpload(url, signal) {
      const a = await send('HEAD', new URL(url), { ...TUS }, signal)
      if (a.status === 404 || a.status === 410 || a.status === 403) return null
      if (a.status !== 200 && a.status !== 204) throw refuse('HEAD upload', a)
      return { offset: offsetOf(a), length: Number(a.headers['upload-length'] ?? -1) }
    },

    async patchUpload(req) {
      const headers: OutgoingHttpHeaders = { ...TUS, 'upload-offset': req.offset, 'content-type': 'application/offset+octet-stream', 'content-length': req.length - req.offset }
      // HEAD /media, not HEAD on the upload: tus would take the upload's lock from this very PATCH.
      const probe = async () => {
        const held = await transport.headMedia(req.sha256, req.signal)
        return held.held ? Infinity : (held.upload?.offset ?? -1)
      }
      const a = await send('PATCH', new URL(req.url), headers, req.signal, { path: req.source, start: req.offset, end: req.length, onBytes: req.onBytes, probe })
      if (a.status === 404 || a.status === 410) throw new SyncTransportError('the server no longer knows this upload', { transient: true, status: a.status, code: 'upload_gone' })
      if (a.status !== 204 && a.status !== 200) throw refuse('PATCH upload', a)
      return { offset: offsetOf(a), sha256: shaOf(a) }
    },

    close() {
      agent.destroy()
    },
  }
  return transport
}
