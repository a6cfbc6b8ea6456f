import { randomUUID } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Database } from '../store/database.ts';
import { parseBody as parse } from './problem.ts';

export interface AuditEntry {
  id: string;
  at: number;
  actor: string;
  actorKind: string;
  /** METHOD /route/:pattern, as the API names it. */
  action: string;
  /** The route's parameters (the repository, the job, the secret's name): never a body, which may hold a secret. */
  target: Record<string, string>;
  status: number;
  ip: string | null;
}

/** Who changed what, when, and how it went: every state-changing call to the API. */
export class AuditLog {
  private readonly db: Database;

  constructor(db: Database) {
    this.db = db;
  }

  async record(e: Omit<AuditEntry, 'id'>): Promise<void> {
    await this.db.query('INSERT INTO audit_log (id, at, actor, actor_kind, action, target, status, ip) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)', [randomUUID(), e.at, e.actor, e.actorKind, e.action, JSON.stringify(e.target), e.status, e.ip]);
  }

  /** Newest first; `before` is the last entry's id of the page before. */
  async list(f: { actor?: string; since?: number; before?: string; limit: number }): Promise<AuditEntry[]> {
    const where: string[] = ['1 = 1'];
    const values: unknown[] = [];
    const add = (sql: string, v: unknown) => {
      values.push(v);
      where.push(sql.replace('?', `$${values.length}`));
    };
    if (f.actor) add('actor = ?', f.actor);
    if (f.since !== undefined) add('at >= ?', f.since);
    if (f.before) {
      const [b] = await this.db.query<{ at: unknown }>('SELECT at FROM audit_log WHERE id = $1', [f.before]);
      if (b) {
        values.push(Number(b.at), f.before);
        where.push(`(at < $${values.length - 1} OR (at = $${values.length - 1} AND id < $${values.length}))`);
      }
    }
    values.push(f.limit);
    const rows = await this.db.query(`SELECT * FROM audit_log WHERE ${where.join(' AND ')} ORDER BY at DESC, id DESC LIMIT $${values.length}`, values);
    return rows.map((r) => ({ id: String(r.id), at: Number(r.at), actor: String(r.actor), actorKind: String(r.actor_kind), action: String(r.action), target: JSON.parse(String(r.target ?? '{}')) as Record<string, string>, status: Number(r.status), ip: (r.ip as string | null) ?? null }));
  }
}

/** Calls that change nothing people act on, or that runners make by the thousand: not audited. */
const NOT_AUDITED = /^\/(api\/runner\/|git\/)/;

/** Records every call but reads (GET, HEAD) once answered, refused ones too; serves GET /api/audit to the admin. */
export function registerAudit(app: FastifyInstance, audit: AuditLog, onProblem: (err: unknown) => void): void {
  app.addHook('onResponse', async (req, reply) => {
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return;
    const route = req.routeOptions.url ?? req.url.split('?')[0]!;
    if (NOT_AUDITED.test(route)) return;
    const who = req.identity;
    const actor = who?.name ?? (route.endsWith('/hooks') ? 'webhook' : 'anonymous');
    await audit.record({ at: Date.now(), actor, actorKind: who?.kind ?? 'none', action: `${req.method} ${route}`, target: { ...((req.params as Record<string, string> | undefined) ?? {}) }, status: reply.statusCode, ip: req.ip ?? null }).catch(onProblem);
  });
  const query = z.strictObject({ actor: z.string().max(100).optional(), since: z.iso.datetime({ offset: true }).optional(), before: z.uuid().optional(), limit: z.coerce.number().int().min(1).max(500).default(100) });
  app.get('/api/audit', { config: { auth: ['admin'] }, schema: { summary: 'The audit log: every state-changing call, newest first (admin)', tags: ['auth'] } }, async (req) => {
    const q = parse(query, req.query);
    const page = await audit.list({ ...(q.actor ? { actor: q.actor } : {}), ...(q.since ? { since: Date.parse(q.since) } : {}), ...(q.before ? { before: q.before } : {}), limit: q.limit });
    return { entries: page.map((e) => ({ id: e.id, at: new Date(e.at).toISOString(), actor: e.actor, actor_kind: e.actorKind, action: e.action, target: e.target, status: e.status, ip: e.ip })), next: page.length === q.limit ? page.at(-1)!.id : null };
  });
}
