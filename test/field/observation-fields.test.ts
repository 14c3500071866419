/**
 * A field report becomes an observation: the body fieldReportToObservation makes passes POST
 * /api/v1/observations as it is, and the report's title, event type and parties come back in the answers.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { fieldReportToObservation, readFieldFolder } from '../../src/field/field-folder.ts'
import { addFieldReport } from '../../src/field/field-writer.ts'
import { bearer, expectProblem, observationBody, postJson, startTestApi, type TestApi } from '../http/harness.ts'
import { newFolder, PASSPHRASE, TEST_WORK_FACTOR } from './support.ts'

describe('observations carry a report\'s title, event type and parties', () => {
  let api: TestApi
  beforeAll(async () => {
    api = await startTestApi('sqlite')
  })
  afterAll(async () => {
    await api.close()
  })

  it('takes the body a field report becomes, and answers with the new fields', async () => {
    const dir = await newFolder()
    await addFieldReport(
      dir,
      {
        title: 'Arrests at the checkpoint',
        narrative: 'Four men taken.',
        occurredAt: '2024-06-02 09:15 +02:00',
        eventType: 'Strategic developments',
        parties: ['Police', 'Local traders'],
        location: { lat: 4.45, lon: 18.5, accuracy: 10 },
        restricted: { notes: 'names withheld', witnesses: [{ name: 'B.', contact: null, role: 'witness', consent: { publication: false, partners: false, court: true } }] },
      },
      { passphrase: PASSPHRASE, scryptWorkFactor: TEST_WORK_FACTOR },
    )
    const { reports } = await readFieldFolder(dir, { passphrase: PASSPHRASE })
    const res = await postJson(api.app, '/api/v1/observations', api.token.researcher, fieldReportToObservation(reports[0]!))
    expect(res.statusCode, res.body).toBe(201)
    const created = JSON.parse(res.body)
    expect(created).toMatchObject({
      title: 'Arrests at the checkpoint',
      eventType: 'Strategic developments',
      parties: ['Police', 'Local traders'],
      occurredAt: '2024-06-02T07:15:00.000Z',
      location: { lat: 4.45, lon: 18.5 },
      hasRestricted: true,
    })
    const got = await api.app.inject({ method: 'GET', url: `/api/v1/observations/${created.id}`, headers: bearer(api.token.researcher) })
    expect(JSON.parse(got.body)).toMatchObject({ title: 'Arrests at the checkpoint', eventType: 'Strategic developments', parties: ['Police', 'Local traders'] })
  })

  it('answers observations without them with null and an empty list', async () => {
    const res = await postJson(api.app, '/api/v1/observations', api.token.researcher, observationBody())
    expect(res.statusCode, res.body).toBe(201)
    expect(JSON.parse(res.body)).toMatchObject({ title: null, eventType: null, parties: [] })
  })

  it('refuses an unknown event type, a long title, and too many or too long parties', async () => {
    for (const [bad, field] of [
      [{ eventType: 'Skirmish' }, '/body/eventType'],
      [{ title: 'x'.repeat(301) }, '/body/title'],
      [{ title: '' }, '/body/title'],
      [{ parties: Array.from({ length: 21 }, (_, i) => `p${i}`) }, '/body/parties'],
      [{ parties: ['p'.repeat(201)] }, '/body/parties/0'],
    ] as const) {
      const problem = expectProblem(await postJson(api.app, '/api/v1/observations', api.token.researcher, observationBody(bad)), 400)
      expect(problem.errors?.map((e) => e.field), JSON.stringify(problem)).toContain(field)
    }
  })
})
