import type { Actor } from '../access/actor.ts'
import { ConflictError, NotFoundError, ValidationError, type FieldError } from '../errors.ts'
import { uuidv7 } from '../ids.ts'
import type { Party, PartyFilter, Repositories } from '../ports/repositories.ts'
import { type InterCode, isInterCode } from './acled.ts'

export const MAX_PARTY_NAME = 200
export const MAX_ALIASES = 50
export const MAX_PARTY_DESCRIPTION = 4000
/** How deep parent groups nest: a brigade in a division in an army is 3; past 5 it is a mistake, not a structure. */
export const MAX_PARTY_DEPTH = 5

export interface PartyInput {
  name: string
  aliases?: string[]
  interCode: number
  description?: string | null
  parentId?: string | null
}

export type PartyPatch = Partial<PartyInput>

/**
 * The key uniqueness and search compare: NFKC (full-width and ligature forms fold to plain ones), lower
 * case, runs of whitespace as one space, and invisible format characters (zero-width spaces and joiners,
 * bidi controls such as U+202E, soft hyphens) dropped, so "Hill  Militia", "HILL MILITIA" and
 * "Hill\u200BMilitia" are one party and nobody can file a look-alike duplicate. The name itself is kept as written.
 */
export function normaliseKey(text: string): string {
  return text
    .normalize('NFKC')
    .replace(/\p{Cf}/gu, '')
    .toLowerCase()
    .normalize('NFKC')
    .replace(/\s+/g, ' ')
    .trim()
}

/** Trims and collapses whitespace; refuses what is empty, too long, or holds control characters. */
function cleanLabel(text: string, field: string): { clean: string; key: string } {
  const clean = text.trim().replace(/\s+/g, ' ')
  const key = normaliseKey(clean)
  if (clean.length === 0 || clean.length > MAX_PARTY_NAME || key.length === 0)
    throw new ValidationError([{ field, message: `must be 1–${MAX_PARTY_NAME} characters, not only spaces or invisible characters` }])
  // Whitespace controls were collapsed above; what is left (\u0001, DEL, C1 controls) has no place in a name.
  if (/\p{Cc}/u.test(clean)) throw new ValidationError([{ field, message: 'contains a control character' }])
  return { clean, key }
}

interface Cleaned {
  name: string
  nameKey: string
  aliases: string[]
  aliasKeys: string[]
  interCode: InterCode
  description: string | null
  parentId: string | null
}

function clean(input: PartyInput): Cleaned {
  const errors: FieldError[] = []
  const attempt = <T>(fn: () => T): T | undefined => {
    try {
      return fn()
    } catch (err) {
      if (err instanceof ValidationError) errors.push(...err.errors)
      else throw err
      return undefined
    }
  }
  const name = attempt(() => cleanLabel(input.name, '/body/name'))
  const rawAliases = input.aliases ?? []
  if (rawAliases.length > MAX_ALIASES) errors.push({ field: '/body/aliases', message: `at most ${MAX_ALIASES} aliases` })
  const aliases: { clean: string; key: string }[] = []
  rawAliases.slice(0, MAX_ALIASES).forEach((a, i) => {
    const alias = attempt(() => cleanLabel(a, `/body/aliases/${i}`))
    if (!alias) return
    if (name && alias.key === name.key) errors.push({ field: `/body/aliases/${i}`, message: 'is the name itself' })
    else if (aliases.some((b) => b.key === alias.key)) errors.push({ field: `/body/aliases/${i}`, message: 'repeats another alias (ignoring case and spacing)' })
    else aliases.push(alias)
  })
  if (!isInterCode(input.interCode)) errors.push({ field: '/body/interCode', message: 'must be an ACLED inter code, 1–8' })
  const description = input.description?.trim() ? input.description : null
  if (description !== null && description.length > MAX_PARTY_DESCRIPTION) errors.push({ field: '/body/description', message: `at most ${MAX_PARTY_DESCRIPTION} characters` })
  if (errors.length || !name) throw new ValidationError(errors)
  return {
    name: name.clean,
    nameKey: name.key,
    aliases: aliases.map((a) => a.clean),
    aliasKeys: aliases.map((a) => a.key),
    interCode: input.interCode as InterCode,
    description,
    parentId: input.parentId ?? null,
  }
}

/**
 * Names are unique among all parties, archived ones too (one actor, one record). An alias may be shared by
 * two parties ("the army" of two states), but may not be another party's name, and a name may not be
 * another party's alias: either would make a search for that name ambiguous. Both are 409s.
 */
async function assertLabelsFree(repos: Repositories, c: Cleaned, except: string | null): Promise<void> {
  const [sameName] = (await repos.parties.byNameKeys([c.nameKey])).filter((p) => p.id !== except)
  if (sameName) throw new ConflictError('party_name_taken', `A party named ${sameName.name} exists already${sameName.archivedAt ? ' (archived)' : ''}.`)
  const [aliasOf] = (await repos.parties.withAliasKey(c.nameKey)).filter((p) => p.id !== except)
  if (aliasOf) throw new ConflictError('party_name_taken', `${c.name} is an alias of the party ${aliasOf.name}.`)
  const [named] = (await repos.parties.byNameKeys(c.aliasKeys)).filter((p) => p.id !== except)
  if (named) throw new ConflictError('party_alias_taken', `The alias ${named.name} is the name of another party.`)
}

/** The parent must exist, be in use, not be the party or one of its descendants, and keep the tree within MAX_PARTY_DEPTH. */
async function assertParentFits(repos: Repositories, parentId: string | null, self: string | null): Promise<void> {
  if (parentId === null) return
  const refuse = (message: string) => new ValidationError([{ field: '/body/parentId', message }])
  const parent = await repos.parties.byId(parentId)
  if (!parent) throw refuse('is not a party')
  if (parent.archivedAt !== null) throw refuse('is archived')
  // Levels above and including the parent; reaching `self` on the way up is a cycle.
  let above = 0
  for (let p: Party | null = parent; p; p = p.parentId ? await repos.parties.byId(p.parentId) : null) {
    if (p.id === self) throw refuse('would make the party its own ancestor')
    if (++above > MAX_PARTY_DEPTH) break
  }
  // Levels at and below `self` (1 for a new party or one without children).
  let height = 1
  if (self !== null) {
    for (let level = await repos.parties.childrenOf([self]); level.length && height <= MAX_PARTY_DEPTH; level = await repos.parties.childrenOf(level)) height++
  }
  if (above + height > MAX_PARTY_DEPTH) throw refuse(`would nest parties more than ${MAX_PARTY_DEPTH} levels deep`)
}

export async function createParty(repos: Repositories, actor: Actor, input: PartyInput, now = Date.now()): Promise<Party> {
  const c = clean(input)
  await assertLabelsFree(repos, c, null)
  await assertParentFits(repos, c.parentId, null)
  const party: Party = {
    id: uuidv7(now),
    name: c.name,
    nameKey: c.nameKey,
    aliases: c.aliases,
    interCode: c.interCode,
    description: c.description,
    parentId: c.parentId,
    createdAt: now,
    updatedAt: now,
    createdBy: actor.kind === 'user' ? actor.userId : null,
    archivedAt: null,
  }
  await repos.parties.insert(party, c.aliasKeys)
  return party
}

/** Changes what the patch names; the rest stays. An archived party can still be corrected. */
export async function updateParty(repos: Repositories, id: string, patch: PartyPatch, now = Date.now()): Promise<Party> {
  const party = await getParty(repos, id)
  const c = clean({
    name: patch.name ?? party.name,
    aliases: patch.aliases ?? party.aliases,
    interCode: patch.interCode ?? party.interCode,
    description: patch.description === undefined ? party.description : patch.description,
    parentId: patch.parentId === undefined ? party.parentId : patch.parentId,
  })
  await assertLabelsFree(repos, c, id)
  if (c.parentId !== party.parentId) await assertParentFits(repos, c.parentId, id)
  const updated: Party = { ...party, name: c.name, nameKey: c.nameKey, aliases: c.aliases, interCode: c.interCode, description: c.description, parentId: c.parentId, updatedAt: now }
  await repos.parties.update(updated, c.aliasKeys)
  return updated
}

/** Archived parties leave the default list and cannot become parents; incidents that name them keep them. Idempotent. */
export async function archiveParty(repos: Repositories, id: string, now = Date.now()): Promise<Party> {
  const party = await getParty(repos, id)
  if (party.archivedAt !== null) return party
  await repos.parties.archive(id, now)
  return { ...party, archivedAt: now, updatedAt: now }
}

export async function getParty(repos: Repositories, id: string): Promise<Party> {
  return (await repos.parties.byId(id)) ?? notFound(id)
}

function notFound(id: string): never {
  throw new NotFoundError('party', id)
}

/** `q` is normalised as names are, so a search ignores case, spacing and invisible characters. */
export async function listParties(repos: Repositories, filter: Omit<PartyFilter, 'q'> & { q?: string }): Promise<Party[]> {
  const q = filter.q === undefined ? undefined : normaliseKey(filter.q)
  return repos.parties.list({ ...filter, q: q || undefined })
}
