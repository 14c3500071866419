/**
 * An in-memory CustodyLogRepository with the same contract as the database one, so the core's use cases
 * and proofs can be property-tested fast; the database adapters are checked against the same results in
 * custody-log.db.test.ts.
 */
import type { CustodyEntry, CustodyLogRepository, StoredCheckpoint, StoredNode } from '../../src/core/custody/custody-log-repository.ts'
import type { CustodyRepos } from '../../src/core/custody/custody-log.ts'
import { nodeKeyId } from '../../src/core/custody/subtrees.ts'

export function memoryCustodyLog(): CustodyRepos & { nodes: Map<string, Buffer>; entries: CustodyEntry[] } {
  const entries: CustodyEntry[] = []
  const nodes = new Map<string, Buffer>()
  const checkpoints = new Map<number, StoredCheckpoint>()
  let logKey: string | null = null
  const custodyLog: CustodyLogRepository = {
    lockForAppend: async () => entries.length,
    size: async () => entries.length,
    async hashes(keys) {
      const out = new Map<string, Buffer>()
      for (const k of keys) {
        const hash = k.level === 0 ? entries[k.index]?.leafHash : nodes.get(nodeKeyId(k))
        if (hash) out.set(nodeKeyId(k), hash)
      }
      return out
    },
    async insert(newEntries: readonly CustodyEntry[], newNodes: readonly StoredNode[]) {
      for (const e of newEntries) {
        if (e.index !== entries.length) throw new Error(`entry ${e.index} appended at ${entries.length}`)
        entries.push(e)
      }
      for (const n of newNodes) {
        if (nodes.has(nodeKeyId(n))) throw new Error(`node ${nodeKeyId(n)} written twice`)
        nodes.set(nodeKeyId(n), n.hash)
      }
    },
    entry: async (index) => entries[index] ?? null,
    latestCheckpoint: async () => [...checkpoints.values()].sort((a, b) => b.size - a.size)[0] ?? null,
    checkpointAt: async (size) => checkpoints.get(size) ?? null,
    async saveCheckpoint(c) {
      if (!checkpoints.has(c.size)) checkpoints.set(c.size, c)
    },
    logKey: async () => logKey,
    async saveLogKeyIfAbsent(record) {
      logKey ??= record
      return logKey
    },
  }
  return { custodyLog, nodes, entries }
}
