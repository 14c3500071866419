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
  'recovery_codes',
  'sessions',
  'settings',
  'audit_log',
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
