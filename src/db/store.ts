import type { Kysely } from 'kysely'
import type { Repositories, Store } from '../core/ports/repositories.ts'
import type { DialectAdapter, DialectName } from './dialect/dialect-adapter.ts'
import { areaRepository } from './repositories/area.repository.ts'
import { auditRepository, orgRepository, recoveryCodeRepository, sessionRepository, settingsRepository } from './repositories/accounts.repository.ts'
import { idempotencyRepository } from './repositories/idempotency.repository.ts'
import { metaRepository } from './repositories/meta.repository.ts'
import { observationRepository } from './repositories/observation.repository.ts'
import { partyRepository } from './repositories/party.repository.ts'
import { incidentRepository } from './repositories/incident.repository.ts'
import { tokenRepository } from './repositories/token.repository.ts'
import { userRepository } from './repositories/user.repository.ts'
import { custodyLogRepository } from './repositories/custody-log.repository.ts'
import { mediaHashRepository } from './repositories/media-hash.repository.ts'
import { mediaItemRepository } from './repositories/media-item.repository.ts'
import { deviceRepository } from './repositories/device.repository.ts'
import { captureRepository } from './repositories/capture.repository.ts'
import { uploadRepository } from './repositories/upload.repository.ts'
import type { Database } from './schema.ts'

function repositories(db: Kysely<Database>, dialect: DialectName): Repositories {
  return {
    users: userRepository(db),
    orgs: orgRepository(db),
    sessions: sessionRepository(db),
    recoveryCodes: recoveryCodeRepository(db),
    audit: auditRepository(db),
    settings: settingsRepository(db),
    tokens: tokenRepository(db),
    observations: observationRepository(db, dialect),
    parties: partyRepository(db),
    areas: areaRepository(db),
    incidents: incidentRepository(db, dialect),
    idempotency: idempotencyRepository(db),
    meta: metaRepository(db),
    custodyLog: custodyLogRepository(db, dialect),
    mediaHashes: mediaHashRepository(db),
    devices: deviceRepository(db),
    captures: captureRepository(db),
    mediaItems: mediaItemRepository(db),
    uploads: uploadRepository(db),
  }
}

/** The core's Store over one database: plain repositories, and the same repositories bound to a transaction. */
export function makeStore(db: DialectAdapter): Store {
  return {
    repos: repositories(db.kysely, db.name),
    dialect: db.name,
    transaction: (fn) => db.writeTransaction((trx) => fn(repositories(trx, db.name))),
  }
}
