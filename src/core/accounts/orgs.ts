import { ConflictError, NotFoundError, ValidationError } from '../errors.ts'
import { uuidv7 } from '../ids.ts'
import type { Org, Repositories } from '../ports/repositories.ts'

export const MAX_ORG_NAME = 200

/** Trims and collapses inner whitespace: "Red  Crescent " and "Red Crescent" are one organisation. */
export function normaliseOrgName(name: string, field = 'name'): string {
  const clean = name.trim().replace(/\s+/g, ' ')
  if (clean.length === 0 || clean.length > MAX_ORG_NAME) throw new ValidationError([{ field, message: `must be 1–${MAX_ORG_NAME} characters besides spaces` }])
  return clean
}

/**
 * Names are unique ignoring case as well: two organisations called "Amnesty" and "AMNESTY" would be told
 * apart by nobody choosing one from a list. There are tens of organisations, not thousands, so all are read.
 */
async function assertNameFree(repos: Repositories, name: string, except: string | null): Promise<void> {
  const lower = name.toLowerCase()
  const taken = (await repos.orgs.list()).find((o) => o.name.toLowerCase() === lower && o.id !== except)
  if (taken) throw new ConflictError('org_name_taken', `An organisation named ${taken.name} exists already.`)
}

export async function createOrg(repos: Repositories, input: { name: string }, now = Date.now()): Promise<Org> {
  const name = normaliseOrgName(input.name)
  await assertNameFree(repos, name, null)
  const org: Org = { id: uuidv7(now), name, createdAt: now }
  await repos.orgs.insert(org)
  return org
}

export async function renameOrg(repos: Repositories, id: string, input: { name: string }, now = Date.now()): Promise<Org> {
  const org = await repos.orgs.byId(id)
  if (!org) throw new NotFoundError('organisation', id)
  const name = normaliseOrgName(input.name)
  if (name === org.name) return org
  await assertNameFree(repos, name, id)
  await repos.orgs.rename(id, name, now)
  return { ...org, name }
}

/** An organisation named by its id or its name (ignoring case and spacing, as uniqueness does): the CLI's `--org`. */
export async function findOrg(repos: Repositories, nameOrId: string): Promise<Org | null> {
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
  if (UUID.test(nameOrId)) return repos.orgs.byId(nameOrId.toLowerCase())
  const lower = normaliseOrgName(nameOrId).toLowerCase()
  return (await repos.orgs.list()).find((o) => o.name.toLowerCase() === lower) ?? null
}
