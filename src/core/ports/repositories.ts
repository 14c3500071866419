import type { Role } from '../access/actor.ts'
import type { Observation, ObservationQuery } from '../observations/observation.ts'

/** What the core needs from the database, in its own words. src/db implements it once for SQLite and PostgreSQL. */
export interface Repositories {
  users: UserRepository
  tokens: TokenRepository
  observations: ObservationRepository
  idempotency: IdempotencyRepository
  meta: MetaRepository
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
  mustChangePassword: boolean
  createdAt: number
  disabledAt: number | null
}

export interface UserRepository {
  insert(user: User, passwordHash: string | null): Promise<void>
  byId(id: string): Promise<User | null>
  byEmail(email: string): Promise<(User & { passwordHash: string | null }) | null>
  count(): Promise<number>
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
  byHash(tokenHash: string): Promise<{ token: ApiToken; user: User } | null>
  touch(id: string, at: number): Promise<void>
  revoke(id: string, at: number): Promise<void>
}

export interface ObservationRepository {
  insert(observation: Observation): Promise<void>
  byId(id: string): Promise<Observation | null>
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
