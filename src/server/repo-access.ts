import type { FastifyInstance, FastifyRequest } from 'fastify';
import { NestorError } from '../errors.ts';
import { covers, type RepoMembers, type RepoRole } from '../repos/repo-members.ts';

const WHAT: Record<RepoRole, (repo: string) => string> = {
  read: (repo) => `see ${repo}, its pipelines and their logs`,
  write: (repo) => `run, cancel, restart or approve pipelines of ${repo}`,
  maintain: (repo) => `change the settings, secrets, schedules or members of ${repo}`,
};

/** The request's user may act on the repository with at least `role` (the server's admin always may); else a 403 that says who can grant it. */
export async function requireRole(req: FastifyRequest, members: RepoMembers, repo: string, role: RepoRole): Promise<void> {
  const who = req.identity;
  if (who?.kind === 'admin') return;
  if (who?.kind === 'user' && covers(await members.roleOf(repo, who.name), role)) return;
  throw new NestorError('NESTOR_FORBIDDEN', `${who?.name ?? 'This token'} may not ${WHAT[role](repo)} (that needs the ${role} role)`, `Ask a maintainer of ${repo} or the server's admin: nestor repos members add ${repo} ${who?.name ?? 'USER'} ${role}.`);
}

/** Repository names the request's user may read; undefined: all (the admin). */
export async function readableRepos(req: FastifyRequest, members: RepoMembers): Promise<Set<string> | undefined> {
  if (req.identity?.kind === 'admin') return undefined;
  return req.identity ? members.readable(req.identity.name) : new Set();
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** The role on the route's :repo a user needs (the admin always passes). */
    role?: RepoRole;
  }
}

/** Checks each route's `config.role` against its :repo before its handler runs. */
export function registerRoleCheck(app: FastifyInstance, members: RepoMembers): void {
  app.addHook('preHandler', async (req) => {
    const role = req.routeOptions.config?.role;
    const repo = (req.params as { repo?: string } | undefined)?.repo;
    if (role && repo !== undefined) await requireRole(req, members, repo, role);
  });
}
