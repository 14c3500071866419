import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll } from 'vitest'

const made: string[] = []

// Registered when a test file imports this module, so it runs once that file's tests are over.
afterAll(removeTmpDirs)

/** A new empty directory under the OS temp dir, removed after the importing test file has run. */
export function tmpDir(prefix = 'louder-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  made.push(dir)
  return dir
}

/** Removes every directory tmpDir() made so far. */
export function removeTmpDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true })
}
