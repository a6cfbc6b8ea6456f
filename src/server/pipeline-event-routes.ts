import type { EventEmitter } from 'node:events';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { parseBody as parse } from './problem.ts';
import { publicPipeline } from './repo-routes.ts';
import { readableRepos } from './repo-access.ts';
import type { RepoMembers } from '../repos/repo-members.ts';
import type { Job, Store } from './store/store.ts';

/** How often the stream looks at the store for changes made through another server on the same database. */
const RECHECK_MS = 5000;
const KEEP_ALIVE_MS = 25_000;
const ACTIVE = ['waiting', 'queued', 'running'];

const eventsQuery = z.strictObject({ repo: z.string().max(200).optional() });

/**
 * GET /api/events: pipelines' and their jobs' status changes as server-sent events, for a page
 * that stays current: an `pipeline` event (the pipeline as GET shows it, with its jobs) each
 * time one changes. Woken at once by this server's own changes (`changes` emits a pipeline's
 * id), and every few seconds it looks at the store for those made through another server.
 */
export async function registerPipelineEventRoutes(app: FastifyInstance, deps: { store: Store; changes: EventEmitter; members: RepoMembers }): Promise<void> {
  const closing = new AbortController();
  app.addHook('preClose', async () => closing.abort());
  app.get('/api/events', { config: { auth: ['admin', 'user'] }, schema: { summary: 'Pipeline and job status changes, live (server-sent events: event pipeline)', tags: ['pipelines'] } }, async (req, reply) => {
    const q = parse(eventsQuery, req.query);
    const visible = await readableRepos(req, deps.members);
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    res.write(': nestor pipeline events\n\n');
    const sent = new Map<string, string>();
    const pending = new Set<string>();
    let wake = Promise.withResolvers<void>();
    const onChange = (id: string) => {
      pending.add(id);
      wake.resolve();
    };
    deps.changes.on('pipeline', onChange);
    let gone = false;
    const end = () => {
      gone = true;
      wake.resolve();
    };
    res.once('close', end);
    closing.signal.addEventListener('abort', end, { once: true });
    /** Sends the pipeline if it changed since last sent; `quiet` only notes it (what the page had when the stream began). */
    const send = (p: Job, jobs: Job[], quiet: boolean) => {
      const signature = `${p.status}|${jobs.map((j) => j.status).join(',')}`;
      if (sent.get(p.id) === signature) return;
      sent.set(p.id, signature);
      if (!quiet) res.write(`event: pipeline\ndata: ${JSON.stringify(publicPipeline(p, jobs))}\n\n`);
    };
    let initial = true;
    let lastKeepAlive = Date.now();
    try {
      while (!gone) {
        const local = new Set(pending);
        const ids = new Set(pending);
        pending.clear();
        // The active pipelines (and any this server just changed): a change through another server shows within RECHECK_MS.
        for (const p of await deps.store.pipelines({ ...(q.repo ? { repo: q.repo } : {}), limit: 50 })) if (ACTIVE.includes(p.status) || sent.has(p.id)) ids.add(p.id);
        for (const id of ids) {
          const p = await deps.store.job(id);
          if (!p || p.pipelineId !== p.id || !p.repo || (q.repo && p.repo !== q.repo) || (visible && !visible.has(p.repo))) continue;
          send(p, await deps.store.pipelineJobs(p.id), initial && !local.has(id));
          if (!ACTIVE.includes(p.status)) sent.delete(p.id);
        }
        initial = false;
        if (Date.now() - lastKeepAlive > KEEP_ALIVE_MS) {
          res.write(': keep-alive\n\n');
          lastKeepAlive = Date.now();
        }
        const timer = setTimeout(() => wake.resolve(), RECHECK_MS);
        await wake.promise;
        clearTimeout(timer);
        wake = Promise.withResolvers<void>();
      }
    } finally {
      deps.changes.off('pipeline', onChange);
      closing.signal.removeEventListener('abort', end);
      res.end();
    }
  });
}
