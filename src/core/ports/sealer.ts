/** Envelope encryption of single values (src/protection/envelope.ts). `context` binds a value to its place. */
export interface Sealer {
  /**
   * Seals a value. Without `dataKeyId` a new data key is stored first, which must not happen inside a
   * write transaction (on SQLite the transaction holds the only connection): reserve the key before.
   */
  seal(plaintext: string | Buffer, context: string, options?: { dataKeyId?: string }): Promise<string>
  open(sealed: string, context: string): Promise<Buffer>
  /** Creates a data key now, outside any transaction, for a seal inside one. */
  reserveDataKey(): Promise<string>
}
