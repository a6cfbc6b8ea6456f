import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { NestorError } from '../errors.ts';
import { parseBody as parse } from './problem.ts';
import { jsonSchema } from './schemas.ts';
import type { Store, TokenInfo } from './store/store.ts';

const DAY_MS = 86_400_000;
/** A personal token lives at most a year: one that never expires is the admin's to make (`nestor token create`). */
const MAX_DAYS = 366;

const userName = z.string().regex(/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/, 'letters, digits, ".", "_" and "-", at most 63');
const tokenOptions = {
  label: z.string().min(1).max(100).optional(),
  expires_in_days: z.number().int().min(1).max(MAX_DAYS).default(90),
  scope: z.enum(['read', 'write']).default('write'),
};
export const issueTokenBody = z.strictObject({ name: userName, ...tokenOptions });
export const personalTokenBody = z.strictObject(tokenOptions);

const publicToken = (t: TokenInfo) => ({ id: t.id, label: t.label, scope: t.scope, created_at: new Date(t.createdAt).toISOString(), expires_at: t.expiresAt === null ? null : new Date(t.expiresAt).toISOString() });

/**
 * API tokens of users: the admin issues one for any user (POST /api/tokens); a user makes
 * personal ones for themselves (/api/me/tokens), each with an expiry and a scope ('read'
 * answers GETs only), lists them (never the token: only its hash is kept) and revokes them.
 * Runner and registration tokens are not these: they come from registering a runner.
 */
export async function registerTokenRoutes(app: FastifyInstance, deps: { store: Store; now?: () => number }): Promise<void> {
  const { store } = deps;
  const now = deps.now ?? Date.now;
  const tags = ['auth'];
  const doc = (summary: string, body?: z.ZodType) => ({ summary, tags, ...(body ? { body: jsonSchema(body) } : {}) });
  const issue = async (name: string, body: z.infer<typeof personalTokenBody>) => {
    const expiresAt = now() + body.expires_in_days * DAY_MS;
    const token = await store.addToken('user', name, undefined, { ...(body.label ? { label: body.label } : {}), expiresAt, scope: body.scope });
    return { name, token, scope: body.scope, label: body.label ?? null, expires_at: new Date(expiresAt).toISOString() };
  };

  app.post('/api/tokens', { config: { auth: ['admin'] }, schema: doc('Issue an API token for a user (admin), with an expiry and a scope', issueTokenBody) }, async (req, reply) => {
    const body = parse(issueTokenBody, req.body);
    return reply.code(201).send(await issue(body.name, body));
  });
  app.get('/api/me', { config: { auth: ['admin', 'user'] }, schema: doc('Who this token is: its user, kind, scope and expiry') }, async (req) => {
    const who = req.identity as { kind: string; name: string; scope?: string; expiresAt?: number | null };
    return { name: who.name, kind: who.kind, scope: who.scope ?? 'write', expires_at: who.expiresAt ? new Date(who.expiresAt).toISOString() : null };
  });
  app.post('/api/me/tokens', { config: { auth: ['user'] }, schema: doc('Make a personal token for yourself (at most a year; scope read or write)', personalTokenBody) }, async (req, reply) => {
    const body = parse(personalTokenBody, req.body ?? {});
    // A read-only token cannot make itself a writing one: the hook refuses its POST already.
    return reply.code(201).send(await issue(req.identity!.name, body));
  });
  app.get('/api/me/tokens', { config: { auth: ['user'] }, schema: doc('Your tokens (never their values)') }, async (req) => ({ tokens: (await store.userTokens(req.identity!.name)).map(publicToken) }));
  app.delete<{ Params: { id: string } }>('/api/me/tokens/:id', { config: { auth: ['user'] }, schema: doc('Revoke one of your tokens') }, async (req, reply) => {
    if (!(await store.revokeUserToken(req.identity!.name, req.params.id))) throw new NestorError('NESTOR_TOKEN_NOT_FOUND', `You have no token ${req.params.id}`, '`GET /api/me/tokens` lists yours.');
    return reply.code(204).send();
  });
}
