import { pino, type Logger } from 'pino'

/**
 * One logger for the process; modules take a child named after themselves. Bodies are never logged,
 * and credentials are censored wherever they would appear (headers, or a field someone logs by mistake).
 */
export function createLogger(options: { level?: string; destination?: NodeJS.WritableStream } = {}): Logger {
  return pino(
    {
      level: options.level ?? 'info',
      redact: {
        paths: [
          'req.headers.authorization',
          'req.headers.cookie',
          'res.headers["set-cookie"]',
          'password',
          'token',
          '*.password',
          '*.token',
          'body',
          '*.body',
        ],
        censor: '[redacted]',
      },
    },
    options.destination as pino.DestinationStream | undefined,
  )
}

export type { Logger }
