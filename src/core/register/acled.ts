/**
 * ACLED's event taxonomy and actor types (its codebook; /work/shared/testdata/acled/README.md), as data:
 * incidents are coded with these so the register exports as ACLED-compatible rows without translation.
 */

export const EVENT_TYPES = {
  Battles: ['Armed clash', 'Government regains territory', 'Non-state actor overtakes territory'],
  'Violence against civilians': ['Sexual violence', 'Attack', 'Abduction/forced disappearance'],
  'Explosions/Remote violence': [
    'Chemical weapon',
    'Air/drone strike',
    'Suicide bomb',
    'Shelling/artillery/missile attack',
    'Remote explosive/landmine/IED',
    'Grenade',
  ],
  Protests: ['Peaceful protest', 'Protest with intervention', 'Excessive force against protesters'],
  Riots: ['Violent demonstration', 'Mob violence'],
  'Strategic developments': [
    'Agreement',
    'Arrests',
    'Change to group/activity',
    'Disrupted weapons use',
    'Headquarters or base established',
    'Looting/property destruction',
    'Non-violent transfer of territory',
    'Other',
  ],
} as const satisfies Record<string, readonly string[]>

export type EventType = keyof typeof EVENT_TYPES
export type SubEventType = (typeof EVENT_TYPES)[EventType][number]

export const EVENT_TYPE_NAMES = Object.keys(EVENT_TYPES) as EventType[]

/** ACLED's actor types ("inter" codes). */
export const INTER_CODES = {
  1: 'State forces',
  2: 'Rebel groups',
  3: 'Political militias',
  4: 'Identity militias',
  5: 'Rioters',
  6: 'Protesters',
  7: 'Civilians',
  8: 'External/other forces',
} as const

export type InterCode = keyof typeof INTER_CODES

export function isEventType(value: string): value is EventType {
  return Object.hasOwn(EVENT_TYPES, value)
}

export function isInterCode(value: unknown): value is InterCode {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 8
}

/** Whether `sub` is one of `type`'s sub-event types (false for an unknown type). */
export function isSubEventOf(type: string, sub: string): boolean {
  return isEventType(type) && (EVENT_TYPES[type] as readonly string[]).includes(sub)
}

/**
 * ACLED's `interaction`: the two actors' inter codes joined, lower first (1 and 3 → 13, so 31 never occurs:
 * the actors carry no direction). An event with one actor gives its code followed by 0 (state forces alone → 10).
 */
export function interactionCode(a: InterCode, b: InterCode | null = null): number {
  if (!isInterCode(a) || (b !== null && !isInterCode(b))) throw new RangeError('inter codes are integers 1–8')
  if (b === null) return a * 10
  return Math.min(a, b) * 10 + Math.max(a, b)
}
