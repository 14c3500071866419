/**
 * A capture device's Ed25519 key, as the server knows it. A key is requested by whoever holds the device,
 * approved (registered) by an editor or admin, and may be revoked. Approval and revocation are custody events,
 * and their log indices decide which captures the key vouches for (see `keyVouchesAt`).
 */
export type DeviceStatus = 'requested' | 'registered' | 'revoked'
export const DEVICE_STATUSES = ['requested', 'registered', 'revoked'] as const satisfies readonly DeviceStatus[]

export interface Device {
  keyId: string
  /** Base64 of the raw 32-byte Ed25519 public key. */
  publicKey: string
  name: string
  status: DeviceStatus
  requestedBy: string
  requestedAt: number
  registeredBy: string | null
  registeredAt: number | null
  /** The custody log index of its `key.registered` event. */
  registeredLogIndex: number | null
  revokedBy: string | null
  revokedAt: number | null
  /** The custody log index of its `key.revoked` event; null when revoked before it was ever registered. */
  revokedLogIndex: number | null
  revokeReason: string | null
}

export interface DeviceRepository {
  get(keyId: string): Promise<Device | undefined>
  insert(device: Device): Promise<void>
  update(device: Device): Promise<void>
  /** By key id, `limit` rows after `after`, optionally of one status. */
  list(query: { limit: number; after?: string; status?: DeviceStatus }): Promise<Device[]>
}

/**
 * Whether the key vouches for a capture logged at `captureLogIndex`. The log's order, not any device clock,
 * decides: the key's registration must come earlier in the log, and its revocation (if any) later. So a
 * capture made offline before the key was approved, but logged after, is valid; one logged after the
 * revocation is not, whatever time the device claims.
 */
export function keyVouchesAt(device: Device, captureLogIndex: number): boolean {
  if (device.registeredLogIndex === null || device.registeredLogIndex >= captureLogIndex) return false
  return device.revokedLogIndex === null || device.revokedLogIndex > captureLogIndex
}
