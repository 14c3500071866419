import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { AppContext } from '../../app-context.ts'
import { isAllowed } from '../../core/access/policy.ts'
import { auditEntry } from '../../core/audit/audit.ts'
import { verifierKey } from '../../core/custody/checkpoint.ts'
import { consistencyProof, custodyEntry, inclusionProof } from '../../core/custody/custody-log.ts'
import { MAX_TREE_SIZE } from '../../core/custody/merkle.ts'
import { currentCheckpoint } from '../../core/custody/sign-checkpoint.ts'
import { auditOrigin } from '../audit.ts'
import { problemResponses, Restricted, Strict } from '../schemas/common.ts'

/**
 * Anonymous readers may make the server sign a new checkpoint at most this often; in between they get the
 * latest one, which is still a valid checkpoint of a smaller tree.
 */
const CHECKPOINT_INTERVAL_MS = 1000

const Size = (description: string) => Type.Integer({ minimum: 0, maximum: MAX_TREE_SIZE, description })
const Hash = Type.String({ pattern: '^[0-9a-f]{64}$', description: 'SHA-256, lower-case hex' })

const EntryParams = Strict({ index: Size('the entry\'s position in the log, from 0') })
const InclusionQuery = Strict({ index: Size('the entry to prove'), size: Size('the tree size the proof is for (a checkpoint\'s size)') })
const ConsistencyQuery = Strict({ from: Size('the older tree size'), to: Size('the newer tree size') })

const EntrySchema = Type.Object(
  {
    index: Type.Integer(),
    leafHash: { ...Hash, description: 'SHA-256(0x00 ‖ canonical JSON of the event), RFC 9162 §2.1.1' },
    event: Type.Optional(Restricted(Type.Object({}, { additionalProperties: true, description: 'the event (legal officers and admins; each read is audited); its RFC 8785 canonical JSON is the leaf' }))),
  },
  { title: 'LogEntry' },
)
const InclusionSchema = Type.Object({ index: Type.Integer(), size: Type.Integer(), leafHash: Hash, hashes: Type.Array(Hash, { description: 'RFC 9162 §2.1.3 inclusion path, leaf end first' }) }, { title: 'InclusionProof' })
const ConsistencySchema = Type.Object({ from: Type.Integer(), to: Type.Integer(), hashes: Type.Array(Hash, { description: 'RFC 9162 §2.1.4 consistency path' }) }, { title: 'ConsistencyProof' })

const text = (description: string) => ({ description, content: { 'text/plain': { schema: Type.String() } } })

/** The custody log, public so anyone can check it with their own code (RFC 9162 proofs, C2SP checkpoints). */
export function registerLogRoutes(app: FastifyInstance, ctx: AppContext): void {
  const tags = ['custody']
  const repos = ctx.store.repos

  app.get(
    '/api/v1/log/checkpoint',
    { config: { action: 'log.read' }, schema: { tags, summary: 'The latest signed checkpoint (C2SP tlog-checkpoint signed note)', response: { 200: text('origin, size, base64 root hash, then the Ed25519 signature line') } } },
    async (_req, reply) => {
      const checkpoint = await currentCheckpoint(repos, await ctx.logKey.signer(), CHECKPOINT_INTERVAL_MS)
      return reply.type('text/plain; charset=utf-8').send(checkpoint.note)
    },
  )

  app.get(
    '/api/v1/log/key',
    { config: { action: 'log.read' }, schema: { tags, summary: "The log's verifier key (golang.org/x/mod/sumdb/note form)", response: { 200: text('<name>+<key hash hex>+<base64(0x01 ‖ Ed25519 public key)>') } } },
    async (_req, reply) => {
      const signer = await ctx.logKey.signer()
      return reply.type('text/plain; charset=utf-8').send(`${verifierKey(signer.name, signer.publicKey)}\n`)
    },
  )

  app.get<{ Params: Static<typeof EntryParams> }>(
    '/api/v1/log/entries/:index',
    {
      config: { action: 'log.read' },
      schema: { tags, summary: "One entry's leaf hash; the event itself for legal officers and admins (audited)", params: EntryParams, response: { 200: EntrySchema, ...problemResponses(400, 404) } },
    },
    async (req) => {
      const entry = await custodyEntry(repos, req.params.index)
      const present = { index: entry.index, leafHash: entry.leafHash.toString('hex') }
      if (!isAllowed(req.actor, 'log.event.read')) return present
      // A body may name who read an original and why: the read is recorded before it is answered.
      await repos.audit.append(auditEntry(req.actor, 'log.event.read', 'ok', auditOrigin(req), { status: 200, resourceType: 'custody', resourceId: String(entry.index) }))
      return { ...present, event: JSON.parse(entry.body) as Record<string, unknown> }
    },
  )

  app.get<{ Querystring: Static<typeof InclusionQuery> }>(
    '/api/v1/log/proofs/inclusion',
    { config: { action: 'log.read' }, schema: { tags, summary: 'Inclusion proof of an entry in the tree of a given size', querystring: InclusionQuery, response: { 200: InclusionSchema, ...problemResponses(400, 404) } } },
    async (req) => {
      const proof = await inclusionProof(repos, req.query.index, req.query.size)
      return { index: proof.index, size: proof.size, leafHash: proof.leafHash.toString('hex'), hashes: proof.hashes.map((h) => h.toString('hex')) }
    },
  )

  app.get<{ Querystring: Static<typeof ConsistencyQuery> }>(
    '/api/v1/log/proofs/consistency',
    { config: { action: 'log.read' }, schema: { tags, summary: 'Consistency proof between two tree sizes: the newer tree extends the older', querystring: ConsistencyQuery, response: { 200: ConsistencySchema, ...problemResponses(400, 404) } } },
    async (req) => {
      const proof = await consistencyProof(repos, req.query.from, req.query.to)
      return { from: proof.from, to: proof.to, hashes: proof.hashes.map((h) => h.toString('hex')) }
    },
  )
}
