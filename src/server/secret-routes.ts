import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { NestorError } from '../errors.ts';
import type { RepoStore } from '../repos/repo-store.ts';
import { MAX_SECRET_BYTES, SECRET_EVENTS, type SecretInfo, type SecretStore } from '../repos/secret-store.ts';
import { requireAdmin } from './authz.ts';
import { parseBody as parse } from './problem.ts';
import { jsonSchema } from './schemas.ts';

export const setSecretBody = z.strictObject({
  value: z.string().min(1).max(MAX_SECRET_BYTES),
  events: z.array(z.enum(SECRET_EVENTS)).max(SECRET_EVENTS.length).default([]),
  branches: z.array(z.string().min(1).max(255)).max(100).default([]),
  allow_forks: z.boolean().default(false),
});

function publicSecret(s: SecretInfo) {
  return { name: s.name, scope: s.scope ? { repo: s.scope } : 'server', events: s.events, branches: s.branches, allow_forks: s.allowForks, updated_at: new Date(s.updatedAt).toISOString(), updated_by: s.updatedBy };
}

/**
 * /api/secrets (the server's, for every repository: the admin's) and /api/repos/NAME/secrets
 * (one repository's). Write-only: a value is set and replaced, never read back; a job is the
 * only one given it, in its lease.
 */
export async function registerSecretRoutes(app: FastifyInstance, deps: { secrets: SecretStore; repos: RepoStore }): Promise<void> {
  const { secrets, repos } = deps;
  const auth = { auth: ['admin' as const, 'user' as const] };
  const tags = ['secrets'];
  const doc = (summary: string, body?: z.ZodType) => ({ summary, tags, ...(body ? { body: jsonSchema(body) } : {}) });

  /** The scope a request names: '' (the server's, admin only) or an existing repository. */
  const scopeOf = async (req: FastifyRequest, repo: string | undefined, changing: boolean): Promise<string> => {
    if (repo === undefined) {
      if (changing) requireAdmin(req, 'change the server\'s secrets, which every repository\'s jobs are given', 'Set it for one repository: nestor secrets set NAME --repo OWNER/NAME.');
      return '';
    }
    if (!(await repos.get(repo))) throw new NestorError('NESTOR_REPO_NOT_FOUND', `No repository ${repo}`, '`nestor repos list` shows the repositories.');
    return repo;
  };
  const put = async (req: FastifyRequest<{ Params: { name: string; repo?: string } }>) => {
    const scope = await scopeOf(req, req.params.repo, true);
    const body = parse(setSecretBody, req.body);
    const created = await secrets.set(scope, req.params.name, body.value, { events: body.events, branches: body.branches, allowForks: body.allow_forks }, req.identity!.name);
    req.log.info({ secret: req.params.name, repo: scope || undefined, by: req.identity?.name, created }, created ? 'secret set' : 'secret replaced');
    const info = (await secrets.list(scope)).find((s) => s.name === req.params.name)!;
    return { created, secret: publicSecret(info) };
  };
  const list = async (req: FastifyRequest<{ Params: { repo?: string } }>) => ({ secrets: (await secrets.list(await scopeOf(req, req.params.repo, false))).map(publicSecret) });
  const remove = async (req: FastifyRequest<{ Params: { name: string; repo?: string } }>) => {
    const scope = await scopeOf(req, req.params.repo, true);
    if (!(await secrets.remove(scope, req.params.name))) {
      throw new NestorError('NESTOR_SECRET_NOT_FOUND', `No secret ${req.params.name} ${scope ? `in ${scope}` : 'on the server'}`, `\`nestor secrets list${scope ? ` --repo ${scope}` : ''}\` shows the secrets there.`);
    }
    req.log.info({ secret: req.params.name, repo: scope || undefined, by: req.identity?.name }, 'secret removed');
  };

  app.put<{ Params: { name: string } }>('/api/secrets/:name', { config: auth, schema: doc('Set a secret of the server, given to every repository\'s jobs its limits allow (admin)', setSecretBody) }, async (req, reply) => {
    const r = await put(req);
    return reply.code(r.created ? 201 : 200).send(r.secret);
  });
  app.get('/api/secrets', { config: auth, schema: doc('The server\'s secrets: names and limits, never values') }, (req) => list(req as FastifyRequest<{ Params: { repo?: string } }>));
  app.delete<{ Params: { name: string } }>('/api/secrets/:name', { config: auth, schema: doc('Remove a secret of the server (admin)') }, async (req, reply) => {
    await remove(req);
    return reply.code(204).send();
  });
  app.put<{ Params: { repo: string; name: string } }>('/api/repos/:repo/secrets/:name', { config: { ...auth, role: 'maintain' }, schema: doc('Set a secret of a repository, given to its jobs its limits allow', setSecretBody) }, async (req, reply) => {
    const r = await put(req);
    return reply.code(r.created ? 201 : 200).send(r.secret);
  });
  app.get<{ Params: { repo: string } }>('/api/repos/:repo/secrets', { config: { ...auth, role: 'write' }, schema: doc('A repository\'s secrets: names and limits, never values') }, (req) => list(req));
  app.delete<{ Params: { repo: string; name: string } }>('/api/repos/:repo/secrets/:name', { config: { ...auth, role: 'maintain' }, schema: doc('Remove a secret of a repository') }, async (req, reply) => {
    await remove(req);
    return reply.code(204).send();
  });
}
