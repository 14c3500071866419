import { type Static, Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import type { AppContext } from '../../app-context.ts'
import { loginWithPassword } from '../../core/accounts/tokens.ts'
import { problemResponses, Strict, Timestamp } from '../schemas/common.ts'

const LoginBody = Strict({
  email: Type.String({ minLength: 3, maxLength: 254 }),
  password: Type.String({ minLength: 1, maxLength: 1024 }),
})

export function registerAuthRoutes(app: FastifyInstance, ctx: AppContext): void {
  app.post<{ Body: Static<typeof LoginBody> }>(
    '/api/v1/auth/token',
    {
      config: { action: 'auth.token.create' },
      schema: {
        tags: ['auth'],
        summary: 'Exchange email and password for an API token (shown once)',
        body: LoginBody,
        response: { 201: Type.Object({ token: Type.String(), expiresAt: Timestamp }), ...problemResponses(400, 401, 413, 415) },
      },
    },
    async (req, reply) => {
      const issued = await loginWithPassword(ctx.store.repos, ctx.passwords, req.body.email, req.body.password)
      reply.code(201)
      return { token: issued.token, expiresAt: new Date(issued.record.expiresAt!).toISOString() }
    },
  )
}
