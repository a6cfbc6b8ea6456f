import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import swagger from '@fastify/swagger';
import { EventEmitter } from 'node:events';
import type { z } from 'zod';
import type { Logger } from 'pino';
import { compileSubmission, SUBMISSION_BODY_LIMIT } from './submission.ts';
import { parseBody as parse, problemHandler, sendProblem } from './problem.ts';
import { NestorError } from '../errors.ts';
import { registerGitopsRoutes, type GitopsRoutesDeps } from './gitops-routes.ts';
import { registerArtifactRoutes } from './artifact-routes.ts';
import type { ArtifactStore } from '../artifacts/artifact-store.ts';
import { ServerMetrics } from './metrics.ts';
import {
  completeBody,
  heartbeatBody,
  jsonSchema,
  leaseBody,
  logsBody,
  registerRunnerBody,
  submitJobBody,
} from './schemas.ts';
import { DEFAULT_LOG_CAP_BYTES, type Job, type Store, type TokenKind, type TokenScope } from './store/store.ts';
import { neededOutcomes } from './store/pipelines.ts';
import { queuedReason } from './queue-reason.ts';
import { registerTokenRoutes } from './token-routes.ts';
import type { ShellHub } from './shell-routes.ts';

export interface AppOptions {
  store: Store;
  logger: Logger;
  /** How long a lease lasts without a heartbeat. */
  leaseMs: number;
  bodyLimit?: number;
  /** Bytes of log text kept per job attempt (default 64 MiB); what passes it is counted, not kept. */
  logCapBytes?: number;
  version?: string;
  /** GitOps routes and the function gateway, when this server runs them. */
  gitops?: GitopsRoutesDeps;
  /** Where the jobs of a pipeline leave artifacts for the jobs after them (the server's data directory). */
  artifacts?: ArtifactStore;
  /** Told when a pipeline may have changed state (a job of it leased, ended, cancelled): for its commit status. */
  pipelineChanged?: (pipelineId: string) => void;
  /**
   * What a leased job is given beside its spec, never stored with it: a repository's job's
   * secrets and its job token. An error fails the lease, which the runner asks again.
   */
  leaseExtras?: (job: Job) => Promise<Record<string, unknown>>;
  /** Refuses a user a repository's job they may not `need` (read it, or write: cancel it); jobs on their own are every user's. */
  jobAccess?: (req: FastifyRequest, job: Job, need: 'read' | 'write') => Promise<void>;
  /** Shells asked for, offered to each job's runner in its heartbeat answer. */
  shells?: ShellHub;
}

type Identity = { kind: TokenKind; name: string; scope?: TokenScope };
declare module 'fastify' {
  interface FastifyRequest {
    identity?: Identity;
  }
  interface FastifyContextConfig {
    auth?: TokenKind[];
  }
}

const USERS: TokenKind[] = ['admin', 'user'];
/** How often a waiting lease looks at the store again, for jobs submitted through another server. */
const LEASE_RECHECK_MS = 2000;
const RUNNERS: TokenKind[] = ['runner'];


export function publicJob(j: Job) {
  return {
    id: j.id,
    name: j.name,
    status: j.status,
    runner: j.runner,
    target_runner: j.targetRunner,
    labels: j.labels,
    attempts: j.attempts,
    max_attempts: j.maxAttempts,
    retry_policy: j.retryPolicy,
    cancel_requested: j.cancelRequested,
    result: j.result,
    error: j.error,
    created_at: new Date(j.createdAt).toISOString(),
    started_at: j.startedAt ? new Date(j.startedAt).toISOString() : null,
    finished_at: j.finishedAt ? new Date(j.finishedAt).toISOString() : null,
    ...(j.finishedAt && j.startedAt ? { duration_ms: j.finishedAt - j.startedAt } : {}),
    ...(j.pipelineId ? { pipeline: j.pipelineId === j.id ? { id: j.id, role: 'pipeline' } : { id: j.pipelineId, role: 'job', job: j.spec.job, needs: j.needs } } : {}),
  };
}

/** The HTTP API of ../shared/DESIGN.md on Fastify. Only /health answers without a token. */
export async function buildApp(opts: AppOptions): Promise<{ app: FastifyInstance; metrics: ServerMetrics; queueChanged: EventEmitter }> {
  const { store, leaseMs } = opts;
  const offlineMs = Math.max(3 * leaseMs, 10_000);
  // Fastify's own per-request lines are off: at info a runner's long-polls and log appends would
  // bury the events people read. Each request is logged once, at debug, when it completes.
  // Fastify's own lines (one "listening" per address, request details) are for debugging;
  // the events people read at info are logged on `log` below.
  const log = opts.logger;
  const httpLog = log.isLevelEnabled('debug') ? log : log.child({}, { level: 'warn' });
  const app = Fastify({ loggerInstance: httpLog as unknown as FastifyBaseLogger, bodyLimit: opts.bodyLimit ?? 1024 * 1024, logController: new LogController({ disableRequestLogging: true }) });
  app.addHook('onResponse', async (req, reply) => {
    req.log.debug({ method: req.method, url: req.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'request');
  });
  const metrics = new ServerMetrics(store, offlineMs);
  const queueChanged = new EventEmitter().setMaxListeners(0);
  // Ends the live log streams when the server closes: a follower never holds a closing server.
  const closing = new AbortController();
  app.addHook('preClose', async () => closing.abort());

  // zod checks every body in the handlers; the JSON Schemas are for the OpenAPI document only.
  app.setValidatorCompiler(() => (data) => ({ value: data }));
  await app.register(swagger, {
    openapi: {
      info: { title: 'Nestor API', version: opts.version ?? '0.1.0', description: 'Jobs, runners and logs. Authorization: Bearer TOKEN on every route but /health.' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });

  app.setErrorHandler(
    problemHandler(
      {
        bodyTooLarge: { message: 'The request body is over this route\'s size limit (1 MiB for the API, 6 MiB for functions, unless configured otherwise)', hint: 'Send less: split log batches, or put large pipelines in the repository.' },
        unsupportedMediaTypeHint: 'Send JSON with Content-Type: application/json.',
        badRequestHint: 'Check the request against /api/openapi.json.',
      },
      'request failed',
    ),
  );
  app.setNotFoundHandler((req, reply) => sendProblem(reply, new NestorError('NESTOR_NOT_FOUND', `No route ${req.method} ${req.url}`, 'See /api/openapi.json for the routes.')));

  app.addHook('onRequest', async (req) => {
    const allowed = req.routeOptions.config?.auth;
    if (!allowed) return;
    const header = req.headers.authorization ?? '';
    const token = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
    if (!token) throw new NestorError('NESTOR_UNAUTHENTICATED', 'This route needs a token', 'Send Authorization: Bearer TOKEN (the admin token was printed at first start; runners get theirs at registration).');
    const identity = await store.findToken(token);
    if (!identity) throw new NestorError('NESTOR_UNAUTHENTICATED', 'The token is not known', 'Check the token; an admin can issue a new one with POST /api/tokens.');
    if (!allowed.includes(identity.kind)) throw new NestorError('NESTOR_FORBIDDEN', `A ${identity.kind} token cannot use this route`, `Use a ${allowed.join(' or ')} token.`);
    if (identity.scope === 'read' && req.method !== 'GET' && req.method !== 'HEAD') {
      throw new NestorError('NESTOR_TOKEN_SCOPE', `This token of ${identity.name} reads only: it cannot ${req.method} ${req.routeOptions.url}`, 'Make a token with --scope write for changes: nestor token create --scope write.');
    }
    req.identity = identity;
  });

  const doc = (summary: string, body?: z.ZodType, tags = ['jobs']) => ({ summary, tags, ...(body ? { body: jsonSchema(body) } : {}) });

  app.get('/health', { schema: { summary: 'Liveness, with the store reachable', tags: ['server'], security: [] } }, async () => {
    await store.db.query('SELECT 1 AS ok');
    return { status: 'ok', store: store.db.kind };
  });
  app.get('/api/openapi.json', { config: { auth: [...USERS, 'runner'] }, schema: { hide: true } }, async () => app.swagger());
  app.get('/metrics', { config: { auth: USERS }, schema: { summary: 'Prometheus metrics', tags: ['server'] } }, async (_req, reply) => {
    reply.type(metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  await registerTokenRoutes(app, { store });

  // Runners

  app.post('/api/runners/register', { config: { auth: ['registration', 'admin'] }, schema: doc('Register a runner; answers its own token', registerRunnerBody, ['runners']) }, async (req, reply) => {
    const body = parse(registerRunnerBody, req.body);
    const runner = await store.registerRunner({ name: body.name, type: body.type, host: body.host, port: body.port, capabilities: body.capabilities, labels: body.labels, metadata: body.metadata, maxJobs: body.max_jobs });
    // A runner registering again gets a new token; its old one stops working.
    await store.removeTokens('runner', body.name);
    const token = await store.addToken('runner', body.name);
    return reply.code(201).send({ ...publicRunner(runner, 0, offlineMs), token });
  });
  app.get('/api/runners', { config: { auth: USERS }, schema: doc('List runners', undefined, ['runners']) }, async () => {
    const runners = await store.runners();
    return { runners: await Promise.all(runners.map(async (r) => publicRunner(r, await store.runningCount(r.name), offlineMs))) };
  });
  const findRunner = async (name: string) => {
    const runner = await store.runner(name);
    if (!runner) throw new NestorError('NESTOR_RUNNER_NOT_FOUND', `No runner named ${name}`, 'GET /api/runners lists the registered runners.');
    return runner;
  };
  app.get<{ Params: { name: string } }>('/api/runners/:name/status', { config: { auth: USERS }, schema: doc('A runner\'s state and load', undefined, ['runners']) }, async (req) => {
    const runner = await findRunner(req.params.name);
    return publicRunner(runner, await store.runningCount(runner.name), offlineMs);
  });
  app.get<{ Params: { name: string } }>('/api/runners/:name/health', { config: { auth: USERS }, schema: doc('Whether a runner is heard from', undefined, ['runners']) }, async (req, reply) => {
    const runner = await findRunner(req.params.name);
    const age = Date.now() - runner.lastSeen;
    const healthy = age < offlineMs;
    return reply.code(healthy ? 200 : 503).send({ name: runner.name, healthy, last_seen: new Date(runner.lastSeen).toISOString(), last_seen_ms_ago: age, offline_after_ms: offlineMs });
  });

  // Jobs

  app.post('/api/jobs', { config: { auth: USERS }, bodyLimit: SUBMISSION_BODY_LIMIT, schema: doc('Submit a job: steps, or a whole pipeline file', submitJobBody) }, async (req, reply) => {
    const body = parse(submitJobBody, req.body);
    const { name, spec, jobs } = await compileSubmission(body);
    if (body.runner && !(await store.runner(body.runner))) {
      throw new NestorError('NESTOR_TARGET_RUNNER_NOT_FOUND', `No runner named ${body.runner}`, 'Submit without `runner`, or register that runner first.');
    }
    const settings = { ...(body.runner ? { targetRunner: body.runner } : {}), labels: body.labels, retryPolicy: body.retry.policy, maxAttempts: body.retry.max_attempts };
    // A pipeline of several jobs is queued job by job, for any runner, each once its needs have
    // ended; one in a concurrency group is a pipeline too, however many jobs it has.
    const concurrency = jobs.find((j) => j.concurrency)?.concurrency;
    const job = jobs.length > 1 || concurrency ? await store.createPipeline({ name, spec, jobs, ...settings, ...(concurrency ? { concurrency } : {}) }) : await store.createJob({ name, spec, ...settings, labels: [...new Set([...settings.labels, ...(jobs[0]?.labels ?? [])])] });
    metrics.submitted.inc();
    queueChanged.emit('job');
    log.info({ job: job.id, name: job.name }, 'job queued');
    return reply.code(201).header('location', `/api/jobs/${job.id}`).send(publicJob(job));
  });
  const findJob = async (id: string) => {
    const job = /^[0-9a-f-]{36}$/.test(id) ? await store.job(id) : undefined;
    if (!job) throw new NestorError('NESTOR_JOB_NOT_FOUND', `No job ${id}`, 'Use the id POST /api/jobs answered.');
    return job;
  };
  const userJob = async (req: FastifyRequest, id: string, need: 'read' | 'write') => {
    const job = await findJob(id);
    if (job.repo) await opts.jobAccess?.(req, job, need);
    return job;
  };
  app.get<{ Params: { id: string } }>('/api/jobs/:id', { config: { auth: USERS }, schema: doc('A job and its result; a pipeline with each of its jobs') }, async (req) => {
    const job = await userJob(req, req.params.id, 'read');
    const runners = await store.runners();
    const shown = (j: Job) => {
      const why = queuedReason(j, runners, Date.now(), offlineMs);
      return { ...publicJob(j), ...(why ? { waiting_reason: why } : {}) };
    };
    return job.pipelineId === job.id ? { ...shown(job), jobs: (await store.pipelineJobs(job.id)).map(shown) } : shown(job);
  });
  app.post<{ Params: { id: string } }>('/api/jobs/:id/cancel', { config: { auth: USERS }, schema: doc('Cancel a job (its runner stops it within 2 s)') }, async (req) => {
    const job = await userJob(req, req.params.id, 'write');
    const cancelled = publicJob((await store.cancel(req.params.id))!);
    if (job.pipelineId) opts.pipelineChanged?.(job.pipelineId);
    return cancelled;
  });
  app.get<{ Params: { id: string }; Querystring: { after?: string; follow?: string } }>(
    '/api/jobs/:id/logs',
    { config: { auth: USERS }, schema: doc('Log lines: JSON, or live as server-sent events (Accept: text/event-stream; resumes after Last-Event-ID)') },
    async (req, reply) => {
      const job = await userJob(req, req.params.id, 'read');
      const after = Number(req.headers['last-event-id'] ?? req.query.after ?? 0) || 0;
      const follow = (req.headers.accept ?? '').includes('text/event-stream') || req.query.follow === 'true' || req.query.follow === '1';
      if (!follow) {
        const lines = await store.logsAfter(job.id, after, 10_000);
        return { job: job.id, status: job.status, lines, next_after: lines.at(-1)?.seq ?? after };
      }
      return streamLogs(store, job.id, after, reply, closing.signal);
    },
  );

  // The runner protocol: lease (long-poll), heartbeat, logs, complete. Each call after the lease is
  // accepted only from the runner that holds the job (by its runner token) with the lease's token.
  const logCapBytes = opts.logCapBytes ?? DEFAULT_LOG_CAP_BYTES;

  app.post('/api/runner/lease', { config: { auth: RUNNERS }, schema: doc('Long-poll for a job (runner); a job of a pipeline with needs comes with how they ended (job.needs: name, status, outputs)', leaseBody, ['runner protocol']) }, async (req, reply) => {
    const body = parse(leaseBody, req.body);
    const runnerName = req.identity!.name;
    const deadline = Date.now() + body.wait_ms;
    // A client that went away is seen on the response or its socket: the request's own `close`
    // fires as soon as its body has been read, which would end every poll at once.
    const gone = clientGone(reply);
    const runner = await store.touchRunner(runnerName);
    if (!runner) throw new NestorError('NESTOR_RUNNER_NOT_FOUND', `Runner ${runnerName} is not registered`, 'Register again with POST /api/runners/register.');
    try {
      for (;;) {
        const lease = await store.lease(runner, leaseMs);
        if (lease) {
          log.info({ job: lease.job.id, name: lease.job.name, runner: runnerName, attempt: lease.job.attempts }, 'job started');
          if (lease.job.pipelineId) opts.pipelineChanged?.(lease.job.pipelineId);
          // A job of a pipeline runs alone on its runner: how the jobs it needs ended (and their
          // outputs) come with it, for GitHub's needs.* and the job's if: over them.
          const needs = lease.job.pipelineId && lease.job.needs.length ? { needs: neededOutcomes(lease.job, await store.pipelineJobs(lease.job.pipelineId)) } : {};
          const extras = opts.leaseExtras ? await opts.leaseExtras(lease.job) : {};
          return { job: { id: lease.job.id, name: lease.job.name, spec: lease.job.spec, attempt: lease.job.attempts, ...needs, ...extras }, lease: { token: lease.token, expires_at: lease.expiresAt, lease_ms: leaseMs } };
        }
        const left = deadline - Date.now();
        if (left <= 0 || gone.signal.aborted || closing.signal.aborted) return reply.code(204).send();
        // Woken by a submission on this server; the timeout covers other servers on one database.
        // A closing server answers its waiting runners at once instead of holding the close.
        await wakeOrTimeout(queueChanged, 'job', Math.min(left, LEASE_RECHECK_MS), AbortSignal.any([gone.signal, closing.signal]));
      }
    } finally {
      gone.dispose();
    }
  });
  app.post<{ Params: { id: string } }>('/api/runner/jobs/:id/heartbeat', { config: { auth: RUNNERS }, schema: doc('Extend a lease; answers whether to cancel', heartbeatBody, ['runner protocol']) }, async (req) => {
    const body = parse(heartbeatBody, req.body);
    await store.touchRunner(req.identity!.name);
    const beat = await store.heartbeat(req.params.id, req.identity!.name, body.lease, leaseMs);
    // Shells users asked for in this job: the runner opens each (src/server/shell-routes.ts).
    const shells = opts.shells?.offers(req.params.id) ?? [];
    return { ...beat, lease_ms: leaseMs, ...(shells.length ? { shells } : {}) };
  });
  app.post<{ Params: { id: string } }>('/api/runner/jobs/:id/logs', { config: { auth: RUNNERS }, schema: doc('Append log lines; answers cap_reached once the job\'s log is full (send no more lines, count them)', logsBody, ['runner protocol']) }, async (req) => {
    const body = parse(logsBody, req.body);
    const appended = await store.appendLogs(req.params.id, req.identity!.name, body.lease, body.lines, logCapBytes);
    return { seq: appended.seq, cap_reached: appended.capReached };
  });
  app.post<{ Params: { id: string } }>('/api/runner/jobs/:id/complete', { config: { auth: RUNNERS }, schema: doc('Finish a job', completeBody, ['runner protocol']) }, async (req) => {
    const body = parse(completeBody, req.body);
    const job = await findJob(req.params.id);
    const outcome = { status: body.status, ...(body.result !== undefined ? { result: body.result } : {}), ...(body.error ? { error: body.error } : {}) };
    await store.complete(req.params.id, req.identity!.name, body.lease, outcome, body.log_not_kept);
    // The jobs after it in its pipeline may have been queued.
    if (job.pipelineId) {
      queueChanged.emit('job');
      opts.pipelineChanged?.(job.pipelineId);
    }
    const durationMs = job.startedAt ? Date.now() - job.startedAt : undefined;
    if (durationMs !== undefined) metrics.jobDuration.observe({ status: body.status }, durationMs / 1000);
    log.info({ job: job.id, name: job.name, runner: req.identity!.name, status: body.status, ...(durationMs !== undefined ? { durationMs } : {}) }, 'job finished');
    if (body.engine_ms !== undefined) metrics.engineStart.observe(body.engine_ms / 1000);
    return { ok: true };
  });

  if (opts.gitops) await registerGitopsRoutes(app, opts.gitops);
  if (opts.artifacts) await registerArtifactRoutes(app, { store, artifacts: opts.artifacts });
  return { app, metrics, queueChanged };
}

function publicRunner(r: Awaited<ReturnType<Store['runners']>>[number], running: number, offlineMs: number) {
  const online = Date.now() - r.lastSeen < offlineMs;
  return {
    name: r.name,
    type: r.type,
    host: r.host,
    port: r.port,
    capabilities: r.capabilities,
    labels: r.labels,
    metadata: r.metadata,
    max_jobs: r.maxJobs,
    running_jobs: running,
    state: !online ? 'offline' : running > 0 ? 'busy' : 'idle',
    registered_at: new Date(r.registeredAt).toISOString(),
    last_seen: new Date(r.lastSeen).toISOString(),
  };
}

/**
 * Server-sent events: every stored line after `after` (each with its sequence number as the
 * event id, so a reconnecting client resumes with Last-Event-ID), then live lines as they are
 * stored, then an `end` event with the job's status. Polling the store (not this process's
 * memory) is what lets followers on one server see lines written through another.
 */
async function streamLogs(store: Store, jobId: string, after: number, reply: FastifyReply, closing: AbortSignal): Promise<void> {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  const gone = clientGone(reply);
  let last = after;
  let idle = 0;
  while (!gone.signal.aborted && !closing.aborted) {
    const lines = await store.logsAfter(jobId, last, 1000);
    for (const l of lines) res.write(`id: ${l.seq}\nevent: log\ndata: ${JSON.stringify(l)}\n\n`);
    if (lines.length) {
      last = lines.at(-1)!.seq;
      continue;
    }
    const job = await store.job(jobId);
    if (!job || ['succeeded', 'failed', 'cancelled', 'skipped'].includes(job.status)) {
      res.write(`event: end\ndata: ${JSON.stringify({ status: job?.status ?? 'gone', error: job?.error ?? null })}\n\n`);
      break;
    }
    if (++idle % 75 === 0) res.write(': keep-alive\n\n');
    await new Promise((r) => setTimeout(r, 200));
  }
  gone.dispose();
  res.end();
}

/** Aborts when the client disconnects before the answer is complete (the response or its socket closes). */
function clientGone(reply: FastifyReply): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const res = reply.raw;
  const socket = res.socket;
  const onClose = () => {
    if (!res.writableFinished) controller.abort();
  };
  res.once('close', onClose);
  socket?.once('close', onClose);
  return {
    signal: controller.signal,
    dispose() {
      res.off('close', onClose);
      socket?.off('close', onClose);
    },
  };
}

/** Resolves on the first of: `event` on `emitter`, `ms` passing, or `signal` aborting. */
function wakeOrTimeout(emitter: EventEmitter, event: string, ms: number, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      emitter.off(event, done);
      signal.removeEventListener('abort', done);
      resolve();
    }
    emitter.once(event, done);
    signal.addEventListener('abort', done, { once: true });
  });
}
