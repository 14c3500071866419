/**
 * The load generator of the `api` bench, in its own process so that it does not share the server's event
 * loop. Reads a plan as JSON on stdin, runs autocannon for each step in turn (keep-alive connections,
 * each connection sending its next request when the previous answer is in) and prints one JSON result
 * line per step on stdout, after a line announcing its start.
 */
import autocannon from 'autocannon'

export interface LoadStep {
  label: string
  /** Paths to request, in turn across all connections. */
  paths: string[]
  connections: number
  durationS: number
}

export interface LoadPlan {
  origin: string
  token: string
  steps: LoadStep[]
}

export interface LoadResult {
  event: 'done'
  label: string
  requests: number
  durationS: number
  rps: number
  non2xx: number
  errors: number
  latencyP50Ms: number
  latencyP99Ms: number
}

let input = ''
for await (const chunk of process.stdin) input += chunk
const plan = JSON.parse(input) as LoadPlan
for (const step of plan.steps) {
  // Lets the parent read its own CPU time at the step's edges.
  process.stdout.write(`${JSON.stringify({ event: 'start', label: step.label })}\n`)
  let next = 0
  const result = await autocannon({
    url: plan.origin,
    connections: step.connections,
    duration: step.durationS,
    timeout: 30,
    headers: { authorization: `Bearer ${plan.token}` },
    requests: [{ method: 'GET', setupRequest: (request) => ({ ...request, path: step.paths[next++ % step.paths.length]! }) }],
  })
  const out: LoadResult = {
    event: 'done',
    label: step.label,
    requests: result.requests.total,
    durationS: result.duration,
    rps: result.requests.total / result.duration,
    non2xx: result.non2xx,
    errors: result.errors,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
  }
  process.stdout.write(`${JSON.stringify(out)}\n`)
}
