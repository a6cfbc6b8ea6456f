import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { NestorError } from '../errors.ts';
import type { DeployTargetInfo, DeployTargets } from '../repos/deploy-targets.ts';
import { MAX_SECRET_BYTES } from '../repos/secret-store.ts';
import { requireAdmin } from './authz.ts';
import { parseBody as parse } from './problem.ts';
import { jsonSchema } from './schemas.ts';

const pem = z.string().min(1).max(MAX_SECRET_BYTES);
export const setTargetBody = z.strictObject({
  url: z.string().min(1).max(2048),
  ssh_key: pem.optional(),
  known_hosts: pem.optional(),
  tls: z.strictObject({ ca: pem, cert: pem, key: pem }).optional(),
  repos: z.array(z.string().min(1).max(255)).min(1).max(100),
  branches: z.array(z.string().min(1).max(255)).max(100).default([]),
});

function publicTarget(t: DeployTargetInfo) {
  return { name: t.name, url: t.url, repos: t.repos, branches: t.branches, updated_at: new Date(t.updatedAt).toISOString(), updated_by: t.updatedBy };
}

/**
 * /api/targets: the server's deploy targets, defined by its admin. Their credentials are
 * write-only, as secrets are: only a runner is given them, with the lease of a job allowed to
 * use them, and the job's containers get an address, never the credentials.
 */
export async function registerDeployTargetRoutes(app: FastifyInstance, deps: { targets: DeployTargets }): Promise<void> {
  const { targets } = deps;
  const auth = { auth: ['admin' as const, 'user' as const] };
  const tags = ['deploy targets'];
  const doc = (summary: string, body?: z.ZodType) => ({ summary, tags, ...(body ? { body: jsonSchema(body) } : {}) });
  const admin = (req: Parameters<typeof requireAdmin>[0]) => requireAdmin(req, 'define deploy targets, which reach other machines\' engines', 'Ask the server\'s admin to add the target and name your repository in its --repos.');

  app.put<{ Params: { name: string } }>('/api/targets/:name', { config: auth, schema: doc('Define (or replace) a deploy target (admin)', setTargetBody) }, async (req, reply) => {
    admin(req);
    const body = parse(setTargetBody, req.body);
    const credentials = { ...(body.ssh_key ? { sshKey: body.ssh_key } : {}), ...(body.known_hosts ? { knownHosts: body.known_hosts } : {}), ...(body.tls ? { tls: body.tls } : {}) };
    const created = await targets.set(req.params.name, body.url, credentials, { repos: body.repos, branches: body.branches }, req.identity!.name);
    req.log.info({ target: req.params.name, url: body.url, by: req.identity?.name, created }, created ? 'deploy target added' : 'deploy target replaced');
    const info = (await targets.list()).find((t) => t.name === req.params.name)!;
    return reply.code(created ? 201 : 200).send(publicTarget(info));
  });
  app.get('/api/targets', { config: auth, schema: doc('The deploy targets: names, addresses and who may use them, never credentials') }, async () => ({ targets: (await targets.list()).map(publicTarget) }));
  app.delete<{ Params: { name: string } }>('/api/targets/:name', { config: auth, schema: doc('Remove a deploy target (admin)') }, async (req, reply) => {
    admin(req);
    if (!(await targets.remove(req.params.name))) throw new NestorError('NESTOR_TARGET_NOT_FOUND', `No deploy target ${req.params.name}`, '`nestor targets list` shows them.');
    req.log.info({ target: req.params.name, by: req.identity?.name }, 'deploy target removed');
    return reply.code(204).send();
  });
}
