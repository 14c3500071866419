import type { Repositories, Store } from '../ports/repositories.ts'
import type { Sealer } from '../ports/sealer.ts'
import type { Incident, IncidentRestricted, LatLon } from './incident.ts'
import { incidentRestrictedContext, place } from './incident.service.ts'

export const RELOCATE_BATCH = 500

/**
 * Boundaries changed (an import added or replaced areas): admin1/admin2 and the generalised point of every
 * placed incident are computed again from its exact point, one batch at a time, so public and partner
 * outputs follow the new areas. A sensitive incident's exact point is opened from its seal before the write
 * transaction (on SQLite the transaction holds the only connection); each row is rewritten only if it is
 * still at the version read, so a concurrent edit (which places the incident itself) wins.
 * Returns where to continue, or null when every incident was seen.
 */
export async function relocateIncidents(store: Store, sealer: Sealer, afterId: string | null, batch = RELOCATE_BATCH): Promise<{ next: string | null; moved: number }> {
  const page = await store.repos.incidents.pageById(afterId, batch)
  const changes: { incident: Incident; placement: Awaited<ReturnType<typeof place>> }[] = []
  for (const incident of page) {
    const exact = await exactPoint(sealer, incident)
    if (!exact) continue
    const placement = await place(store.repos, exact, incident.sensitive)
    const same =
      JSON.stringify([placement.searchPoint, placement.publicPoint, placement.admin1, placement.admin2]) ===
      JSON.stringify([incident.searchPoint, incident.publicPoint, incident.admin1, incident.admin2])
    if (!same) changes.push({ incident, placement })
  }
  let moved = 0
  if (changes.length)
    await store.transaction(async (repos: Repositories) => {
      for (const { incident, placement } of changes) if (await repos.incidents.updatePlacement({ ...incident, ...placement }, incident.version)) moved++
    })
  return { next: page.length < batch ? null : page[page.length - 1]!.id, moved }
}

async function exactPoint(sealer: Sealer, incident: Incident): Promise<LatLon | null> {
  if (!incident.sensitive) return incident.location
  if (!incident.sealed) return null
  const content = JSON.parse((await sealer.open(incident.sealed.value, incidentRestrictedContext(incident.id))).toString('utf8')) as IncidentRestricted
  return content.exactLocation
}
