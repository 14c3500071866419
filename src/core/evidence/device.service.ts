import { type Actor, actorKey } from '../access/actor.ts'
import { authorize } from '../access/policy.ts'
import { appendCustodyEvent } from '../custody/custody-log.ts'
import { RuleError, throwNotFound, ValidationError } from '../errors.ts'
import { decodeCursor, type Page, toPage } from '../pagination.ts'
import type { Repositories } from '../ports/repositories.ts'
import { toRfc3339 } from '../time.ts'
import type { Device, DeviceStatus } from './device.ts'
import { decodeBase64Exact, deviceKeyId, ED25519_PUBLIC_KEY_BYTES, publicKeyFromRaw } from './device-key.ts'

export const MAX_DEVICE_NAME = 200

/**
 * Asks for a device key to be registered. Idempotent per key: asking again answers with the key as it
 * stands (requested, registered or revoked), so a device that retries over a bad link changes nothing, and
 * a revoked key cannot be brought back by asking anew.
 */
export async function requestDevice(repos: Repositories, actor: Actor, input: { publicKey: string; name: string }, now = Date.now()): Promise<Device> {
  authorize(actor, 'device.request')
  const raw = decodeBase64Exact(input.publicKey, ED25519_PUBLIC_KEY_BYTES)
  if (!raw) throw new ValidationError([{ field: '/body/publicKey', message: `must be standard base64 of the raw ${ED25519_PUBLIC_KEY_BYTES}-byte Ed25519 public key (44 characters)` }])
  try {
    publicKeyFromRaw(raw)
  } catch {
    throw new ValidationError([{ field: '/body/publicKey', message: 'is not an Ed25519 public key' }])
  }
  const name = input.name.trim()
  if (name.length === 0 || name.length > MAX_DEVICE_NAME) throw new ValidationError([{ field: '/body/name', message: `must be 1 to ${MAX_DEVICE_NAME} characters` }])
  const keyId = deviceKeyId(raw)
  const existing = await repos.devices.get(keyId)
  if (existing) return existing
  const device: Device = {
    keyId,
    publicKey: raw.toString('base64'),
    name,
    status: 'requested',
    requestedBy: actorKey(actor),
    requestedAt: now,
    registeredBy: null,
    registeredAt: null,
    registeredLogIndex: null,
    revokedBy: null,
    revokedAt: null,
    revokedLogIndex: null,
    revokeReason: null,
  }
  await repos.devices.insert(device)
  return device
}

/**
 * Registers a requested key: a `key.registered` custody event, in the caller's transaction, whose log index
 * is the point from which the key vouches for captures. Approving a registered key again changes nothing
 * (no second event); a revoked key stays revoked.
 */
export async function approveDevice(repos: Repositories, actor: Actor, keyId: string, now = Date.now()): Promise<Device> {
  authorize(actor, 'device.approve')
  // Read under the log's append lock, so two editors approving at once log one event, not two.
  await repos.custodyLog.lockForAppend()
  const device = (await repos.devices.get(keyId)) ?? throwNotFound('device', keyId)
  if (device.status === 'registered') return device
  if (device.status === 'revoked') throw new RuleError('device_revoked', 'This device key was revoked and cannot be registered again; make a new key on the device (louder device init --force) and request that.')
  const by = actorKey(actor)
  const { index } = await appendCustodyEvent(repos, { v: 1, type: 'key.registered', at: toRfc3339(now), actor: by, keyId, publicKey: device.publicKey }, now)
  const registered: Device = { ...device, status: 'registered', registeredBy: by, registeredAt: now, registeredLogIndex: index }
  await repos.devices.update(registered)
  return registered
}

/**
 * Revokes a key: captures logged after this point are refused. A registered key's revocation is a
 * `key.revoked` custody event (the log must show from when the key stopped vouching); a key never registered
 * vouched for nothing, so refusing its request needs no event. Revoking twice changes nothing.
 */
export async function revokeDevice(repos: Repositories, actor: Actor, keyId: string, reason: string | null, now = Date.now()): Promise<Device> {
  authorize(actor, 'device.revoke')
  await repos.custodyLog.lockForAppend()
  const device = (await repos.devices.get(keyId)) ?? throwNotFound('device', keyId)
  if (device.status === 'revoked') return device
  const by = actorKey(actor)
  let revokedLogIndex: number | null = null
  if (device.status === 'registered')
    revokedLogIndex = (await appendCustodyEvent(repos, { v: 1, type: 'key.revoked', at: toRfc3339(now), actor: by, keyId, reason }, now)).index
  const revoked: Device = { ...device, status: 'revoked', revokedBy: by, revokedAt: now, revokedLogIndex, revokeReason: reason }
  await repos.devices.update(revoked)
  return revoked
}

export async function getDevice(repos: Repositories, actor: Actor, keyId: string): Promise<Device> {
  authorize(actor, 'device.list')
  return (await repos.devices.get(keyId)) ?? throwNotFound('device', keyId)
}

/** Devices by key id, in keyset pages. */
export async function listDevices(repos: Repositories, actor: Actor, query: { limit: number; cursor?: string; status?: DeviceStatus }): Promise<Page<Device>> {
  authorize(actor, 'device.list')
  const after = query.cursor ? (decodeCursor(query.cursor, ['string'])[0] as string) : undefined
  const rows = await repos.devices.list({ limit: query.limit + 1, after, status: query.status })
  return toPage(rows, query.limit, (d) => [d.keyId])
}
