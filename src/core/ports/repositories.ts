import type { Role } from '../access/actor.ts'
import type { ConsentSummary, Observation, ObservationQuery, SealedRestricted } from '../observations/observation.ts'
import type { AreaLevel } from '../geo/admin-boundaries.ts'
import type { InterCode } from '../register/acled.ts'
import type { CustodyLogRepository } from '../custody/custody-log-repository.ts'
import type { MediaItemRepository } from '../evidence/media-item.ts'
import type { DeviceRepository } from '../evidence/device.ts'
import type { CaptureRepository } from '../evidence/capture.ts'
import type { UploadRepository } from '../sync/uploads.ts'
import type { BackingObservation, EditLock, Incident, IncidentComment, IncidentQuery, IncidentVersion } from '../incidents/incident.ts'

/** What the core needs from the database, in its own words. src/db implements it once for SQLite and PostgreSQL. */
export interface Repositories {
  users: UserRepository
  orgs: OrgRepository
  sessions: SessionRepository
  recoveryCodes: RecoveryCodeRepository
  audit: AuditRepository
  settings: SettingsRepository
  tokens: TokenRepository
  observations: ObservationRepository
  parties: PartyRepository
  areas: AreaRepository
  incidents: IncidentRepository
  idempotency: IdempotencyRepository
  meta: MetaRepository
  custodyLog: CustodyLogRepository
  mediaHashes: MediaHashRepository
  devices: DeviceRepository
  captures: CaptureRepository
  mediaItems: MediaItemRepository
  uploads: UploadRepository
}

/** Transactions: everything `fn` does through `repos` commits together or not at all. */
export interface Store {
  readonly repos: Repositories
  transaction<T>(fn: (repos: Repositories) => Promise<T>): Promise<T>
  readonly dialect: 'sqlite' | 'postgres'
}

export interface User {
  id: string
  email: string
  displayName: string
  roles: Role[]
  orgId: string | null
  mustChangePassword: boolean
  createdAt: number
  disabledAt: number | null
  twoFactorEnabled: boolean
}

/** A user as created: no organisation unless given, two-factor not yet enrolled. */
export type NewUser = Omit<User, 'orgId' | 'twoFactorEnabled'> & { orgId?: string | null }

/** What only login and two-factor code may see: never presented, never logged. */
export interface UserSecrets {
  passwordHash: string | null
  /** Sealed TOTP secret (envelope encryption), and one being enrolled. */
  totpSecret: string | null
  totpPendingSecret: string | null
  totpLastStep: number | null
  failedLogins: number
  lockedUntil: number | null
}

export interface UserPatch {
  displayName?: string
  roles?: Role[]
  orgId?: string | null
  disabledAt?: number | null
  mustChangePassword?: boolean
}

export interface UserRepository {
  insert(user: NewUser, passwordHash: string | null): Promise<void>
  byId(id: string): Promise<User | null>
  byEmail(email: string): Promise<(User & UserSecrets) | null>
  secretsOf(id: string): Promise<UserSecrets | null>
  /** Ordered by email; `after` is the last email of the previous page. */
  list(filter: { limit: number; after?: string; orgId?: string; role?: Role }): Promise<User[]>
  count(): Promise<number>
  update(id: string, patch: UserPatch, at: number): Promise<void>
  setPassword(id: string, passwordHash: string, at: number): Promise<void>
  /** Counts a failed login; returns the count including this one (so parallel failures each see their own). */
  recordLoginFailure(id: string, at: number): Promise<number>
  /** Locks sign-in until `until`, unless a later lock is already set: a lock only ever grows until a success clears it. */
  extendLock(id: string, until: number): Promise<void>
  resetLoginFailures(id: string): Promise<void>
  setTotp(id: string, totp: { secret?: string | null; pending?: string | null; enabledAt?: number | null; lastStep?: number | null }, at: number): Promise<void>
}

export interface Org {
  id: string
  name: string
  createdAt: number
}

export interface OrgRepository {
  insert(org: Org): Promise<void>
  byId(id: string): Promise<Org | null>
  byName(name: string): Promise<Org | null>
  /** Ordered by name; all of them, or with `page` limit+1 rows after the name `after`. */
  list(page?: { limit: number; after?: string }): Promise<Org[]>
  rename(id: string, name: string, at: number): Promise<void>
}

export interface Session {
  id: string
  userId: string
  createdAt: number
  lastSeenAt: number
  expiresAt: number
  ip: string | null
  userAgent: string | null
  revokedAt: number | null
}

export interface SessionRepository {
  insert(session: Session, tokenHash: string, csrfHash: string): Promise<void>
  byTokenHash(tokenHash: string): Promise<(Session & { csrfHash: string }) | null>
  touch(id: string, at: number): Promise<void>
  revoke(id: string, at: number): Promise<void>
  revokeAllForUser(userId: string, at: number): Promise<void>
  listForUser(userId: string): Promise<Session[]>
}

export interface RecoveryCodeRepository {
  /** Replaces every code of the user with these (hashes). */
  replaceAll(userId: string, codeHashes: string[], at: number): Promise<void>
  /** Marks an unused code used; false if there is none such. */
  use(userId: string, codeHash: string, at: number): Promise<boolean>
  countUnused(userId: string): Promise<number>
  removeAll(userId: string): Promise<void>
}

export type AuditOutcome = 'ok' | 'denied' | 'failed'

/** One audit record: who did or read what, when, from where and why. Never the restricted values themselves. */
export interface AuditEntry {
  id: string
  at: number
  actor: string
  userId: string | null
  via: 'token' | 'session' | 'cli' | 'system' | null
  action: string
  outcome: AuditOutcome
  status: number | null
  method: string | null
  route: string | null
  resourceType: string | null
  resourceId: string | null
  ip: string | null
  reason: string | null
  detail: Record<string, unknown> | null
}

export interface AuditFilter {
  limit: number
  /** Keyset position: entries strictly older than this id (newest first). */
  before?: string
  userId?: string
  action?: string
  outcome?: AuditOutcome
  resourceType?: string
  resourceId?: string
  from?: number
  to?: number
}

export interface AuditRepository {
  append(entry: AuditEntry): Promise<void>
  list(filter: AuditFilter): Promise<AuditEntry[]>
}

export interface SettingsRepository {
  get(key: string): Promise<string | null>
  set(key: string, value: string, by: string | null, at: number): Promise<void>
  all(): Promise<Record<string, string>>
}

export interface ApiToken {
  id: string
  userId: string
  name: string
  roles: Role[] | null
  createdAt: number
  expiresAt: number | null
  revokedAt: number | null
}

export interface TokenRepository {
  insert(token: ApiToken, tokenHash: string): Promise<void>
  /** The token with this hash and its user, if both exist. */
  byHash(tokenHash: string): Promise<{ token: ApiToken & { lastUsedAt: number | null }; user: User } | null>
  touch(id: string, at: number): Promise<void>
  revoke(id: string, at: number): Promise<void>
  byId(id: string): Promise<ApiToken | null>
  /** Newest first; all of them, or with `page` limit+1 rows older than the token `before`. */
  listForUser(userId: string, page?: { limit: number; before?: string }): Promise<(ApiToken & { lastUsedAt: number | null })[]>
}

export interface ObservationRepository {
  insert(observation: Observation): Promise<void>
  byId(id: string): Promise<Observation | null>
  /** Replaces the sealed restricted part (same data key) and its consent summary, stamps `updatedAt`; false when no such row. */
  updateSealed(id: string, sealed: SealedRestricted, consent: ConsentSummary, updatedAt: number): Promise<boolean>
  /** Newest first, limit+1 rows so the caller can tell whether another page exists. */
  list(query: ObservationQuery): Promise<Observation[]>
  insertMany(observations: Observation[]): Promise<void>
  count(): Promise<number>
}

export interface StoredResponse {
  requestHash: string
  statusCode: number
  body: string
}

export interface IdempotencyRepository {
  find(scope: string, key: string): Promise<StoredResponse | null>
  /** Records the response; throws the dialect's unique violation if the key was taken meanwhile. */
  save(scope: string, key: string, response: StoredResponse, at: number): Promise<void>
  deleteOlderThan(at: number): Promise<number>
}

export interface MetaRepository {
  get(key: string): Promise<string | null>
  set(key: string, value: string): Promise<void>
}

/** An actor incidents name (the parties thesaurus). */
export interface Party {
  id: string
  name: string
  /** The name as uniqueness and search see it (normaliseKey in core/register/parties.ts); the list's sort key. */
  nameKey: string
  aliases: string[]
  interCode: InterCode
  description: string | null
  parentId: string | null
  createdAt: number
  updatedAt: number
  createdBy: string | null
  archivedAt: number | null
}

export interface PartyFilter {
  limit: number
  /** Keyset position: the nameKey of the last party of the previous page. */
  after?: string
  /** A normalised key: parties whose name or an alias contains it. */
  q?: string
  interCode?: InterCode
  includeArchived?: boolean
}

export interface PartyRepository {
  /** `aliasKeys` are the aliases' keys, stored for search and collision checks. */
  insert(party: Party, aliasKeys: string[]): Promise<void>
  byId(id: string): Promise<Party | null>
  /** The parties (archived too) whose name has one of these keys. */
  byNameKeys(keys: string[]): Promise<Party[]>
  /** The parties (archived too) one of whose aliases has this key. */
  withAliasKey(key: string): Promise<Party[]>
  /** The ids of the parties whose parent is one of these. */
  childrenOf(ids: string[]): Promise<string[]>
  update(party: Party, aliasKeys: string[]): Promise<void>
  archive(id: string, at: number): Promise<void>
  /** Ordered by nameKey, limit+1 rows. */
  list(filter: PartyFilter): Promise<Party[]>
}

/** An administrative area (ADM1 province, ADM2 district), as imported from COD-AB or geoBoundaries. */
export interface Area {
  id: string
  level: AreaLevel
  /** The humanitarian place code; unique; what a re-import matches on. */
  pcode: string
  name: string
  /** The ADM1 pcode of an ADM2 area (given, or found from where it lies); null for ADM1. */
  parentPcode: string | null
  minLat: number
  maxLat: number
  minLon: number
  maxLon: number
  /** A point strictly inside the area: what generalised locations show. */
  repLat: number
  repLon: number
  /** Planar area in square degrees: orders areas by size, nothing more. */
  areaDeg2: number
  source: string
  importedAt: number
}

/** An area with its boundary, a GeoJSON Polygon or MultiPolygon as JSON text. */
export interface AreaWithGeometry extends Area {
  geometry: string
}

export interface AreaFilter {
  limit: number
  level?: AreaLevel
  parentPcode?: string
  /** Keyset position: the pcode of the last area of the previous page. */
  after?: string
}

export interface AreaRepository {
  /** Inserts, or replaces everything but the id of the area with the same pcode. */
  upsert(area: AreaWithGeometry): Promise<void>
  byPcode(pcode: string): Promise<Area | null>
  /** The areas whose boundary holds the point, borders included: a bounding-box query, then the exact test. */
  containing(lat: number, lon: number): Promise<Area[]>
  /** Ordered by pcode, limit+1 rows. */
  list(filter: AreaFilter): Promise<Area[]>
}

export interface IncidentRepository {
  insert(incident: Incident): Promise<void>
  /** Bulk load (benchmarks, demo): the incidents and their actor and observation links. */
  insertMany(incidents: Incident[]): Promise<void>
  byId(id: string): Promise<Incident | null>
  /** Replaces the incident's content if its stored version is still `expectedVersion` (compare and set); false otherwise. */
  update(incident: Incident, expectedVersion: number): Promise<boolean>
  /** Rewrites where the incident is placed (search point, generalised point, admin areas) if still at `version`; no new version. */
  updatePlacement(incident: Incident, version: number): Promise<boolean>
  /** Incidents in id order after `afterId` (null: from the first), at most `limit`. */
  pageById(afterId: string | null, limit: number): Promise<Incident[]>
  /** Sets the edit lock if the stored one is still `expected` (compare and set); false otherwise. */
  setLock(id: string, lock: EditLock | null, expected: EditLock | null): Promise<boolean>
  linkObservations(incidentId: string, observationIds: string[]): Promise<void>
  /** Newest first, limit+1 rows so the caller can tell whether another page exists. */
  list(query: IncidentQuery): Promise<Incident[]>
  /** For each incident, the observations linked to it with their media and their people's consent. */
  backingObservations(incidentIds: string[]): Promise<Map<string, BackingObservation[]>>
  addVersion(version: IncidentVersion): Promise<void>
  /** Newest first, limit+1 rows, versions below `before`. */
  versions(incidentId: string, page: { limit: number; before?: number }): Promise<IncidentVersion[]>
  addComment(comment: IncidentComment): Promise<void>
  /** Oldest first, limit+1 rows, comments after the id `after`. */
  comments(incidentId: string, page: { limit: number; after?: string }): Promise<IncidentComment[]>
  count(): Promise<number>
}

/** One stored PDQ hash: an image's (frameIndex 0, frameMs null) or one kept frame of a video's. */
export interface StoredMediaHash {
  mediaSha256: string
  frameIndex: number
  frameMs: number | null
  /** 64 hex digits. */
  hash: string
  quality: number
  createdAt: number
}

export interface MediaHashRepository {
  /** Replaces every hash of the media item with these frames (index = position), in one go. */
  replace(mediaSha256: string, frames: { frameMs: number | null; hash: string; quality: number }[], at: number): Promise<void>
  forMedia(mediaSha256: string): Promise<StoredMediaHash[]>
  /** Every hash stored at or after `at` (replace() stamps all of an item's frames with one time), oldest first. */
  createdSince(at: number): Promise<StoredMediaHash[]>
  /** Removes the media item's hashes; returns how many there were. */
  remove(mediaSha256: string): Promise<number>
  /** Keyset pages in (mediaSha256, frameIndex) order: `limit` rows after `after` (the last row of the previous page). */
  page(limit: number, after?: { mediaSha256: string; frameIndex: number }): Promise<StoredMediaHash[]>
}
