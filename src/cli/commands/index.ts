import type { Command } from 'commander'
import { registerAdmin } from './admin.ts'
import { registerBackup } from './backup.ts'
import { registerDevice } from './device.ts'
import { registerField } from './field.ts'
import { registerHash } from './hash.ts'
import { registerIngest } from './ingest.ts'
import { registerRestore } from './restore.ts'
import { registerServe } from './serve.ts'
import { registerWorker } from './worker.ts'
import { registerVerify } from './verify.ts'
import { registerExport } from './export.ts'
import { registerTimestamp } from './timestamp.ts'
import { registerSync } from './sync.ts'

/** Every CLI command, in the order `louder --help` lists them. */
export function registerCommands(program: Command): void {
  registerServe(program)
  registerWorker(program)
  registerAdmin(program)
  registerBackup(program)
  registerRestore(program)
  registerHash(program)
  registerDevice(program)
  registerIngest(program)
  registerSync(program)
  registerField(program)
  registerExport(program)
  registerVerify(program)
  registerTimestamp(program)
}
