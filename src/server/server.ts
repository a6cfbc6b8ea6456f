import { join } from 'node:path';
import { LocalArtifactStore } from '../artifacts/artifact-store.ts';
import pino, { type Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.ts';
import { Store } from './store/store.ts';
import { startGitops, type GitopsConfig } from '../gitops/service.ts';
import { startFunctionsListener } from './functions-listener.ts';
import { trackRequests } from './connections.ts';
import { secureDataDir } from '../secrets/data-dir.ts';
import { applyHttpLimits, httpLimits, type HttpLimits } from './http-limits.ts';
import { holdCompiler } from './submission.ts';
import { openSecrets } from '../gitops/open-secrets.ts';
import { StatusReporter } from '../repos/forge-status.ts';
import type { Backoff } from '../backoff.ts';
import { errorMessage } from '../errors.ts';
import { registerRepoRoutes } from './repo-routes.ts';
import { registerDeployTargetRoutes } from './deploy-target-routes.ts';
import { registerSecretRoutes } from './secret-routes.ts';
import { AuditLog, registerAudit } from './audit.ts';
import { registerShellRoutes, ShellHub } from './shell-routes.ts';
import { registerRoleCheck, requireRole } from './repo-access.ts';
import { registerGitRoutes } from './git-routes.ts';
import { registerPipelineArtifactRoutes } from './pipeline-artifact-routes.ts';
import { registerPipelineEventRoutes } from './pipeline-event-routes.ts';
import { DEFAULT_GIT_ENV, repoFeature } from './repo-feature.ts';

export interface ServerConfig {
  port: number;
  /** The address to listen on (default 0.0.0.0: every address, for remote runners). */
  host?: string;
  dataDir: string;
  databaseUrl?: string;
  leaseMs?: number;
  adminToken?: string;
  registrationToken?: string;
  logger?: Logger;
  /** Most bytes of log kept per job attempt; what passes it is counted, not stored. */
  logCapBytes?: number;
  /** Days ended pipelines and jobs are kept, with their logs and artifacts (0 or absent: for ever). */
  retentionDays?: number;
  /** Runs the GitOps controller and the function gateway; needs a Docker engine. */
  gitops?: GitopsConfig;
  /** A second port serving functions alone at /NAMESPACE/PATH (0: any free port); needs gitops. */
  functionsPort?: number;
  /** Timeouts for slow clients and the cap on connections (DEFAULT_HTTP_LIMITS). */
  http?: Partial<HttpLimits>;
  /**
   * The key that seals secrets in the store (NESTOR_SECRET_KEY, 32 bytes); without it,
   * DATA_DIR/secret.key, made at the first start.
   */
  secretKey?: Buffer;
  /** The environment git runs in for repositories (the CLI gives process.env). */
  gitEnv?: NodeJS.ProcessEnv;
  /** How forges and people reach this server (NESTOR_PUBLIC_URL): commit statuses link there. */
  publicUrl?: string;
  /** Retries of commit statuses (tests make them quick). */
  statusRetry?: Backoff;
  /** The clock polls and schedules are read from (tests drive their own). */
  now?: () => number;
}

export interface RunningServer {
  app: FastifyInstance;
  store: Store;
  url: string;
  /** Where functions answer at /NAMESPACE/PATH, when a functions port was asked for. */
  functionsUrl?: string;
  /** Runs the repositories' cron schedules due by the server's clock now (for a clock a test moves). */
  runDueSchedules(): Promise<void>;
  /** Tokens made at this first start, to be shown once; empty afterwards. */
  generated: { admin?: string; registration?: string };
  close(): Promise<void>;
}

export const DEFAULT_LEASE_MS = 30_000;

/**
 * `nestor server`: the store (embedded file, or PostgreSQL with NESTOR_DATABASE_URL), the
 * HTTP API, and the reaper that requeues jobs whose runner stopped heartbeating.
 */
export async function startServer(cfg: ServerConfig): Promise<RunningServer> {
  const logger = cfg.logger ?? pino({ name: 'nestor-server' });
  const leaseMs = cfg.leaseMs ?? DEFAULT_LEASE_MS;
  const host = cfg.host ?? '0.0.0.0';
  const limits = httpLimits(cfg.http);
  // The data directory 0700 and the database 0600 before SQLite makes it (its -wal and -shm inherit the mode).
  secureDataDir(cfg.dataDir, cfg.databaseUrl ? {} : { database: 'nestor.db' });
  const store = await Store.open(cfg.databaseUrl ? { databaseUrl: cfg.databaseUrl } : { file: join(cfg.dataDir, 'nestor.db') });
  store.onProblem = (what, err) => logger.warn({ err }, what);
  // What has started, stopped again if a later part of the start fails: a failed start leaves
  // nothing running (a port, the GitOps controller, the store's connections).
  const started: (() => Promise<unknown>)[] = [() => store.close()];
  try {
    return await startOnStore(cfg, { store, logger, leaseMs, host, limits }, started);
  } catch (err) {
    for (const stop of started.reverse()) await stop().catch(() => undefined);
    throw err;
  }
}

/** The server's parts on its open store; each part started is added to `started`. */
async function startOnStore(
  cfg: ServerConfig,
  { store, logger, leaseMs, host, limits }: { store: Store; logger: Logger; leaseMs: number; host: string; limits: ReturnType<typeof httpLimits> },
  started: (() => Promise<unknown>)[],
): Promise<RunningServer> {
  const generated = await bootstrapTokens(store, cfg);
  const box = cfg.gitops?.secrets ?? (await openSecrets(store.db, cfg.dataDir, cfg.secretKey ?? cfg.gitops?.secretKey, logger));
  const gitops = cfg.gitops ? await startGitops(store, { ...cfg.gitops, secrets: box }, cfg.dataDir, logger) : undefined;
  if (gitops) started.push(() => gitops.close());
  // Artifacts of pipelines' jobs, in this server's data directory (servers sharing one database
  // each keep their own: a pipeline's jobs then go through one server).
  const artifacts = new LocalArtifactStore(join(cfg.dataDir, 'artifacts'));
  const statuses = new StatusReporter({ ...(cfg.statusRetry ? { backoff: cfg.statusRetry } : {}), onProblem: (what, err) => logger.warn({ err: errorMessage(err) }, what) });
  let publicUrl = cfg.publicUrl ?? '';
  const repoParts = repoFeature(store, box, { dataDir: cfg.dataDir, gitEnv: cfg.gitEnv ?? DEFAULT_GIT_ENV, logger, statuses, publicUrl: () => publicUrl, artifacts, ...(cfg.now ? { now: cfg.now } : {}) });
  const shells = new ShellHub();
  const { app, metrics, queueChanged } = await buildApp({ store, logger, leaseMs, artifacts, shells, pipelineChanged: repoParts.pipelineChanged, leaseExtras: repoParts.leaseExtras, jobAccess: (req, job, need) => requireRole(req, repoParts.members, job.repo!, need), ...(cfg.logCapBytes !== undefined ? { logCapBytes: cfg.logCapBytes } : {}), ...(gitops ? { gitops: gitops.routes } : {}) });
  const onPipeline = (id: string) => {
    queueChanged.emit('job');
    repoParts.pipelineChanged(id);
  };
  const audit = new AuditLog(store.db);
  const auditProblem = (err: unknown) => logger.warn({ err }, 'could not write the audit log');
  registerAudit(app, audit, auditProblem);
  registerRoleCheck(app, repoParts.members);
  await registerRepoRoutes(app, { ...repoParts.routes, onPipeline, offlineMs: Math.max(3 * leaseMs, 10_000) });
  await registerSecretRoutes(app, { secrets: repoParts.secrets, repos: repoParts.repos });
  await registerDeployTargetRoutes(app, { targets: repoParts.targets });
  await registerShellRoutes(app, { store, hub: shells, audit, jobAccess: (req, job) => requireRole(req, repoParts.members, job.repo!, 'write'), onProblem: auditProblem });
  await registerGitRoutes(app, { store, repos: repoParts.repos, tokens: repoParts.tokens, mirror: repoParts.mirror, gitEnv: cfg.gitEnv ?? DEFAULT_GIT_ENV, members: repoParts.members });
  await registerPipelineArtifactRoutes(app, { store, tokens: repoParts.tokens, artifacts, members: repoParts.members });
  await registerPipelineEventRoutes(app, { store, changes: repoParts.changes, members: repoParts.members });
  gitops?.registerMetrics(metrics.registry);
  const apiConnections = trackRequests(app.server);
  applyHttpLimits(app.server, limits);
  // Submissions are compiled on threads of their own while this server runs.
  const releaseCompiler = holdCompiler();
  started.push(releaseCompiler, () => app.close());
  await app.listen({ port: cfg.port, host });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : cfg.port;
  publicUrl ||= `http://${urlHost(host)}:${port}`;
  let functions: Awaited<ReturnType<typeof startFunctionsListener>> | undefined;
  if (cfg.functionsPort !== undefined && !gitops) logger.warn({ functionsPort: cfg.functionsPort }, 'no functions port: GitOps and functions are off on this server');
  if (cfg.functionsPort !== undefined && gitops) {
    // A start that fails here leaves nothing behind either: not the API's port, not a function container.
    functions = await startFunctionsListener(gitops.gateway, { port: cfg.functionsPort, host, logger });
    // Set once it listens: its timeouts hold, checked on Node's own interval.
    applyHttpLimits(functions.app.server, limits);
    logger.info({ functionsUrl: functions.url }, 'functions served at /NAMESPACE/PATH');
  }

  const trackers = [apiConnections, ...(functions ? [trackRequests(functions.app.server)] : [])];
  const reaper = setInterval(async () => {
    try {
      const moved = await store.expireLeases();
      for (const id of moved.failed) repoParts.jobChanged(id);
      if (moved.requeued.length) {
        metrics.requeued.inc(moved.requeued.length);
        logger.warn({ jobs: moved.requeued }, 'runner stopped heartbeating; jobs requeued');
      }
      if (moved.failed.length) logger.warn({ jobs: moved.failed }, 'runner stopped heartbeating; jobs failed (no attempts left or policy fail)');
    } catch (err) {
      logger.error({ err }, 'lease reaper failed');
    }
  }, reaperEveryMs(leaseMs));
  // Expired artifacts go every ten minutes: a timer of no cost while the server rests.
  // Pipelines and jobs past the retention go with their logs and artifacts, on the same timer.
  const sweeper = setInterval(async () => {
    try {
      artifacts.sweep(Date.now());
      if (cfg.retentionDays) {
        const gone = await store.pruneEnded(Date.now() - cfg.retentionDays * 86_400_000, 500);
        for (const id of gone.pipelines) artifacts.removeRun(id);
        if (gone.jobs) logger.info({ jobs: gone.jobs, pipelines: gone.pipelines.length, retentionDays: cfg.retentionDays }, 'ended jobs past the retention removed');
      }
    } catch (err) {
      logger.warn({ err }, 'could not remove expired artifacts or jobs past the retention');
    }
  }, 600_000).unref();
  const watching = repoParts.startWatching(onPipeline);
  logger.info({ host, port, store: store.db.kind, leaseMs }, 'nestor server listening');
  return {
    app,
    store,
    url: `http://${urlHost(host)}:${port}`,
    ...(functions ? { functionsUrl: functions.url } : {}),
    generated,
    runDueSchedules: () => watching.runDueSchedules(),
    async close() {
      clearInterval(reaper);
      clearInterval(sweeper);
      await watching.stop();
      // Requests running at close (a sync, a function call) finish; connections with none under
      // way (kept alive, or opened and silent) would hold the close open, so they are closed.
      const listeners = functions ? [app, functions.app] : [app];
      const idle = setInterval(() => trackers.forEach((t) => t.closeIdle()), 100);
      try {
        await Promise.all(listeners.map((l) => l.close()));
      } finally {
        clearInterval(idle);
      }
      await releaseCompiler();
      await gitops?.close();
      // Statuses still being retried are given a moment, then dropped (the next start does not resend them).
      await Promise.race([statuses.idle(), new Promise((r) => setTimeout(r, 2000).unref())]);
      await statuses.close();
      await store.close();
    },
  };
}

/** How this process reaches its own server: over loopback when it listens on every address. */
export function urlHost(host: string): string {
  if (host === '0.0.0.0' || host === '::' || host === '') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * How often leases are checked for expiry: a third of the lease (so a dead runner's job is
 * requeued within about 1.3 leases), between a quarter second and 5 s: an idle server need
 * not query its store every second.
 */
export function reaperEveryMs(leaseMs: number): number {
  return Math.max(250, Math.min(5000, leaseMs / 3));
}

/** Tokens from the environment are installed; missing ones are generated once and shown once. */
async function bootstrapTokens(store: Store, cfg: ServerConfig): Promise<RunningServer['generated']> {
  const generated: RunningServer['generated'] = {};
  if (cfg.adminToken) await store.addToken('admin', 'admin', cfg.adminToken);
  else if (!(await store.hasToken('admin'))) generated.admin = await store.addToken('admin', 'admin');
  if (cfg.registrationToken) await store.addToken('registration', 'registration', cfg.registrationToken);
  else if (!(await store.hasToken('registration'))) generated.registration = await store.addToken('registration', 'registration');
  return generated;
}
