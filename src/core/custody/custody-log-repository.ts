import type { NodeKey } from './subtrees.ts'

/** One logged event as stored: its position, leaf hash, and the canonical JSON the hash is over. */
export interface CustodyEntry {
  index: number
  leafHash: Buffer
  /** The event's canonical JSON (RFC 8785), exactly the bytes hashed into the leaf. */
  body: string
  createdAt: number
}

/** The hash of a perfect subtree of 2^level leaves starting at leaf index·2^level. */
export interface StoredNode extends NodeKey {
  hash: Buffer
}

/** A signed checkpoint: the C2SP signed note for the tree of `size` leaves with `root`. */
export interface StoredCheckpoint {
  size: number
  root: Buffer
  note: string
  createdAt: number
}

/** What the custody log needs from the database (src/db/repositories/custody-log.repository.ts). */
export interface CustodyLogRepository {
  /**
   * Takes the log's append lock, held until the surrounding write transaction ends, and returns the size of
   * the tree under it: two appenders, in one process or several, never get the same index.
   */
  lockForAppend(): Promise<number>
  /** The number of committed entries. */
  size(): Promise<number>
  /** Stored hashes by `nodeKeyId`; level 0 are the leaf hashes. Keys not stored are absent from the map. */
  hashes(keys: readonly NodeKey[]): Promise<Map<string, Buffer>>
  /** Writes entries and the perfect subtrees they complete; only after lockForAppend in the same transaction. */
  insert(entries: readonly CustodyEntry[], nodes: readonly StoredNode[]): Promise<void>
  entry(index: number): Promise<CustodyEntry | null>
  latestCheckpoint(): Promise<StoredCheckpoint | null>
  checkpointAt(size: number): Promise<StoredCheckpoint | null>
  /** Keeps the first checkpoint stored for a size (two processes may sign the same size at once). */
  saveCheckpoint(checkpoint: StoredCheckpoint): Promise<void>
  /** The log key record (sealed private key and its public half), or null before the first one is made. */
  logKey(): Promise<string | null>
  /** Stores the log key record unless one exists, and returns whichever is stored: one log, one key. */
  saveLogKeyIfAbsent(record: string): Promise<string>
}
