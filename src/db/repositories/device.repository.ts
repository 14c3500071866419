import type { Kysely } from 'kysely'
import type { Device, DeviceRepository } from '../../core/evidence/device.ts'
import type { Database, DevicesTable } from '../schema.ts'

export function deviceRepository(db: Kysely<Database>): DeviceRepository {
  return {
    async get(keyId) {
      const row = await db.selectFrom('devices').selectAll().where('key_id', '=', keyId).executeTakeFirst()
      return row && fromRow(row)
    },
    async insert(device) {
      await db.insertInto('devices').values(toRow(device)).execute()
    },
    async update(device) {
      const { key_id, ...rest } = toRow(device)
      await db.updateTable('devices').set(rest).where('key_id', '=', key_id).execute()
    },
    async list({ limit, after, status }) {
      let query = db.selectFrom('devices').selectAll()
      if (after !== undefined) query = query.where('key_id', '>', after)
      if (status) query = query.where('status', '=', status)
      return (await query.orderBy('key_id').limit(limit).execute()).map(fromRow)
    },
  }
}

const num = (v: number | string | null) => (v === null ? null : Number(v))

function fromRow(r: DevicesTable): Device {
  return {
    keyId: r.key_id,
    publicKey: r.public_key,
    name: r.name,
    status: r.status,
    requestedBy: r.requested_by,
    requestedAt: Number(r.requested_at),
    registeredBy: r.registered_by,
    registeredAt: num(r.registered_at),
    registeredLogIndex: num(r.registered_log_index),
    revokedBy: r.revoked_by,
    revokedAt: num(r.revoked_at),
    revokedLogIndex: num(r.revoked_log_index),
    revokeReason: r.revoke_reason,
  }
}

function toRow(d: Device): DevicesTable {
  return {
    key_id: d.keyId,
    public_key: d.publicKey,
    name: d.name,
    status: d.status,
    requested_by: d.requestedBy,
    requested_at: d.requestedAt,
    registered_by: d.registeredBy,
    registered_at: d.registeredAt,
    registered_log_index: d.registeredLogIndex,
    revoked_by: d.revokedBy,
    revoked_at: d.revokedAt,
    revoked_log_index: d.revokedLogIndex,
    revoke_reason: d.revokeReason,
  }
}
