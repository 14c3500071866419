/**
 * The tables, as Kysely sees them. Times are epoch milliseconds (bigint); JSON is stored as text so one
 * query codebase serves SQLite and PostgreSQL; the database holds keys (hashes, ids), never file paths.
 */
export interface Database {
  meta: MetaTable
  users: UsersTable
  user_roles: UserRolesTable
  api_tokens: ApiTokensTable
  idempotency_keys: IdempotencyKeysTable
  jobs: JobsTable
  data_keys: DataKeysTable
  observations: ObservationsTable
  orgs: OrgsTable
  recovery_codes: RecoveryCodesTable
  sessions: SessionsTable
  settings: SettingsTable
  audit_log: AuditLogTable
  parties: PartiesTable
  areas: AreasTable
  incidents: IncidentsTable
  incident_actors: IncidentActorsTable
  incident_observations: IncidentObservationsTable
  incident_versions: IncidentVersionsTable
  incident_comments: IncidentCommentsTable
  custody_events: CustodyEventsTable
  custody_nodes: CustodyNodesTable
  custody_checkpoints: CustodyCheckpointsTable
  media_hashes: MediaHashesTable
  media_items: MediaItemsTable
  media_custody: MediaCustodyTable
  devices: DevicesTable
  captures: CapturesTable
  uploads: UploadsTable
}

/** Tables in an order that satisfies every foreign key: backups write them, restores load them, in this order. */
export const TABLES_IN_DEPENDENCY_ORDER = [
  'meta',
  'orgs',
  'users',
  'parties',
  'areas',
  'user_roles',
  'api_tokens',
  'data_keys',
  'idempotency_keys',
  'jobs',
  'observations',
  'incidents',
  'incident_actors',
  'incident_observations',
  'incident_versions',
  'incident_comments',
  'recovery_codes',
  'sessions',
  'settings',
  'audit_log',
  'custody_events',
  'custody_nodes',
  'custody_checkpoints',
  'media_hashes',
  'media_items',
  'media_custody',
  'devices',
  'captures',
  'uploads',
] as const satisfies readonly (keyof Database)[]

export interface MetaTable {
  key: string
  value: string
}

export interface UsersTable {
  id: string
  email: string
  display_name: string
  password_hash: string | null
  must_change_password: number
  created_at: number
  updated_at: number
  disabled_at: number | null
  org_id: string | null
  /** Sealed (envelope encryption); never in clear. */
  totp_secret: string | null
  totp_pending_secret: string | null
  totp_enabled_at: number | null
  totp_last_step: number | null
  failed_logins: number
  locked_until: number | null
  password_changed_at: number | null
}

export interface OrgsTable {
  id: string
  name: string
  created_at: number
  updated_at: number
}

export interface RecoveryCodesTable {
  user_id: string
  /** SHA-256 of the code; the codes are shown once. */
  code_hash: string
  created_at: number
  used_at: number | null
}

export interface SessionsTable {
  id: string
  user_id: string
  /** SHA-256 of the cookie value. */
  token_hash: string
  csrf_hash: string
  created_at: number
  last_seen_at: number
  expires_at: number
  ip: string | null
  user_agent: string | null
  revoked_at: number | null
}

export interface SettingsTable {
  key: string
  value: string
  updated_at: number
  updated_by: string | null
}

/** Append-only (triggers refuse UPDATE and DELETE). Never holds restricted values, only what was touched. */
export interface AuditLogTable {
  id: string
  at: number
  actor: string
  user_id: string | null
  via: string | null
  action: string
  outcome: string
  status: number | null
  method: string | null
  route: string | null
  resource_type: string | null
  resource_id: string | null
  ip: string | null
  reason: string | null
  detail: string | null
}

export interface UserRolesTable {
  user_id: string
  role: string
}

export interface ApiTokensTable {
  id: string
  user_id: string
  name: string
  /** SHA-256 of the token; the token itself is shown once and never stored. */
  token_hash: string
  /** JSON array restricting the user's roles for this token, or null for all of them. */
  roles: string | null
  created_at: number
  expires_at: number | null
  last_used_at: number | null
  revoked_at: number | null
}

export interface IdempotencyKeysTable {
  scope: string
  key: string
  request_hash: string
  status_code: number
  response_body: string
  created_at: number
}

export interface JobsTable {
  id: string
  name: string
  payload: string
  status: string
  priority: number
  attempts: number
  max_attempts: number
  run_at: number
  locked_by: string | null
  locked_until: number | null
  last_error: string | null
  created_at: number
  updated_at: number
  finished_at: number | null
}

export interface DataKeysTable {
  id: string
  /** Which master key wrapped this data key (its fingerprint). */
  kek_id: string
  /** The data key, AES-256-GCM-wrapped by the master key, base64. */
  wrapped: string
  created_at: number
  /** Set when the key is destroyed (crypto-shredding): whatever it sealed is unreadable for good. */
  destroyed_at: number | null
}

export interface ObservationsTable {
  id: string
  narrative: string
  occurred_at: number
  lat: number | null
  lon: number | null
  created_by: string
  created_at: number
  updated_at: number
  /** JSON array of `{ type, reliability, description? }`. */
  sources: string
  /** 0 or 1. */
  urgent: number
  /** BCP 47 tag, or null when not given. */
  language: string | null
  /** JSON array of SHA-256 hex digests of media in the locker. */
  media: string
  /** Notes and witnesses as one JSON value, sealed (context `observations.restricted:<id>`); null when there are none. */
  restricted: string | null
  /** The data key that sealed `restricted`. */
  data_key_id: string | null
  /** 1 when everyone named in `restricted` agreed to the use (or nobody is named), else 0: outputs honour it without opening the seal. */
  consent_publication: number
  consent_partners: number
  consent_court: number
  /** The report's title (field folders), or null. */
  title: string | null
  /** An ACLED event type as the researcher named it, or null. */
  event_type: string | null
  /** JSON array of party names as reported (free text, not thesaurus ids). */
  parties: string
}

export interface PartiesTable {
  id: string
  name: string
  /** The name as uniqueness sees it: NFKC, lower case, spaces collapsed, invisible characters dropped. */
  name_key: string
  /** JSON array of the aliases as entered. */
  aliases: string
  /** The aliases' keys, each between newlines (keys never hold one), for a LIKE search. */
  alias_keys: string
  /** ACLED actor type, 1–8. */
  inter_code: number
  description: string | null
  parent_id: string | null
  created_at: number
  updated_at: number
  created_by: string | null
  archived_at: number | null
}

export interface AreasTable {
  id: string
  /** 1 (ADM1) or 2 (ADM2). */
  level: number
  pcode: string
  name: string
  /** Not a foreign key: a file of ADM2 areas may be imported before its ADM1 file. */
  parent_pcode: string | null
  /** GeoJSON Polygon or MultiPolygon, as checked on import. */
  geometry: string
  min_lat: number
  max_lat: number
  min_lon: number
  max_lon: number
  rep_lat: number
  rep_lon: number
  area_deg2: number
  source: string
  imported_at: number
}

/** The custody log's leaves: append-only; `body` is the canonical JSON whose RFC 6962 leaf hash is `leaf_hash`. */
export interface CustodyEventsTable {
  idx: number
  /** Lower-case hex SHA-256(0x00 ‖ body). */
  leaf_hash: string
  body: string
  created_at: number
}

/** Perfect subtrees of the custody log (2^level leaves from idx·2^level), written once when complete. */
export interface CustodyNodesTable {
  level: number
  idx: number
  hash: string
}

/** Signed checkpoints (C2SP signed notes), one per published tree size. */
export interface CustodyCheckpointsTable {
  size: number
  /** Lower-case hex root hash. */
  root: string
  note: string
  created_at: number
}

export interface IncidentsTable {
  id: string
  version: number
  status: string
  status_reason: string | null
  event_type: string
  sub_event_type: string
  /** JSON array of `{ partyId, associated: [partyId] }`, as coded; incident_actors indexes the same. */
  actors: string
  civilian_targeting: number
  occurred_at: number
  /** A unique key in time order (the second × 2^20 + a slot): SQLite's full-text rowid (incident-search-key.ts). */
  search_key: number
  time_precision: number
  /** The point lists search by: exact, or for a sensitive incident its generalised point (the exact one is sealed). */
  lat: number | null
  lon: number | null
  /** The generalised point public and partner outputs show, and the area it stands for. */
  public_lat: number | null
  public_lon: number | null
  public_area_pcode: string | null
  place_name: string
  admin1_pcode: string | null
  admin1_name: string | null
  admin2_pcode: string | null
  admin2_name: string | null
  geo_precision: number
  sensitive: number
  /** JSON object: kind → `{ min, max }`. */
  counts: string
  narrative: string
  /** JSON array of BCP 47 tags. */
  languages: string
  /** JSON array of `{ type, reliability, description? }`. */
  sources: string
  /** Notes, victims and a sensitive incident's exact point, sealed (context `incidents.restricted:<id>`). */
  restricted: string | null
  data_key_id: string | null
  created_by: string
  created_at: number
  updated_by: string
  updated_at: number
  verified_by: string | null
  verified_at: number | null
  published_by: string | null
  published_at: number | null
  lock_holder: string | null
  lock_expires_at: number | null
}

export interface IncidentActorsTable {
  incident_id: string
  party_id: string
  /** The actor this party is an associated group of; null for an actor itself. */
  associated_with: string | null
  /** Copies of the incident's time and search point, so the party index answers party + time + box alone. */
  occurred_at: number
  lat: number | null
  lon: number | null
}

export interface IncidentObservationsTable {
  incident_id: string
  observation_id: string
  /** Order of linking. */
  position: number
}

export interface IncidentVersionsTable {
  incident_id: string
  version: number
  action: string
  changed_by: string
  changed_at: number
  /** JSON object: field → [before, after]; restricted fields hidden. */
  changes: string
}

export interface IncidentCommentsTable {
  id: string
  incident_id: string
  author_id: string
  body: string
  created_at: number
}

/** PDQ hashes of media items (src/core/matching): one row per image, one per kept video frame. */
export interface MediaHashesTable {
  /** SHA-256 hex of the media item's original bytes. Not a foreign key: hashes may be stored before the locker's row. */
  media_sha256: string
  /** 0 for an image; the frame's position among the video's kept frames. */
  frame_index: number
  /** null for an image; the frame's time in the video, milliseconds. */
  frame_ms: number | null
  /** 64 hex digits, the reference's format. */
  pdq: string
  /** 0–100; ≤ 49 is kept but never matched. */
  quality: number
  created_at: number
}

/** The evidence locker's items (src/core/evidence): originals and derivatives, sealed in the blob store. */
export interface MediaItemsTable {
  /** SHA-256 hex of the original (plaintext) bytes. */
  sha256: string
  /** Sniffed from the bytes, never taken from the client. */
  media_type: string
  byte_length: number
  /** SHA-256 of the stored ciphertext: the blob's key. */
  blob_key: string
  data_key_id: string
  kind: 'original' | 'derivative'
  parent_sha256: string | null
  incident_id: string | null
  received_at: number
  received_by: string
  /** Sealed JSON (envelope encryption, the item's data key): restricted data. */
  metadata: string | null
  metadata_status: 'pending' | 'done' | 'failed'
  metadata_error: string | null
  pixel_width: number | null
  pixel_height: number | null
  duration_ms: number | null
  /** Derivatives: canonical JSON of the signed derivation record. */
  derivation: string | null
}

/** Which custody events concern which item (an item's trail without scanning the log). */
export interface MediaCustodyTable {
  media_sha256: string
  event_index: number
}

/** Capture devices' Ed25519 keys (src/core/evidence/device.ts): requested, registered, revoked. */
export interface DevicesTable {
  /** First 16 bytes of SHA-256 of the raw public key, hex. */
  key_id: string
  /** Base64 of the raw 32-byte public key. */
  public_key: string
  name: string
  status: 'requested' | 'registered' | 'revoked'
  requested_by: string
  requested_at: number
  registered_by: string | null
  registered_at: number | null
  /** Custody log index of the key.registered event. */
  registered_log_index: number | null
  revoked_by: string | null
  revoked_at: number | null
  revoked_log_index: number | null
  revoke_reason: string | null
}

/** Hash-first capture records (src/core/evidence/capture.ts); the record itself is sealed. */
export interface CapturesTable {
  /** SHA-256 hex of the original media bytes. */
  sha256: string
  /** SHA-256 hex of the record's canonical JSON. */
  record_sha256: string
  media_type: string
  byte_length: number
  device_key_id: string
  /** The record's canonical JSON, sealed (`lse1.…`): it may hold location, notes and collector. */
  record: string
  data_key_id: string
  /** Base64 Ed25519 signature by the device key. */
  signature: string
  log_index: number
  leaf_hash: string
  received_at: number
}

/** Resumable uploads (tus) under way or recently sealed; their partial bytes are files under DATA/uploads, encrypted. */
export interface UploadsTable {
  id: string
  owner: string
  sha256: string
  filename: string | null
  incident_id: string | null
  length: number
  /** Bytes received and fsynced. */
  upload_offset: number
  data_key_id: string
  created_at: number
  updated_at: number
  expires_at: number
  status: string
  media_sha256: string | null
}
