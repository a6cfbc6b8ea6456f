import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import { buildApp } from './app.ts';
import { Store } from './store/store.ts';
import { startGitops, type GitopsConfig } from './gitops-service.ts';

export interface ServerConfig {
  port: number;
  host?: string;
  dataDir: string;
  databaseUrl?: string;
  leaseMs?: number;
  adminToken?: string;
  registrationToken?: string;
  logger?: Logger;
  /** Runs the GitOps controller and the function gateway; needs a Docker engine. */
  gitops?: GitopsConfig;
}

export interface RunningServer {
  app: FastifyInstance;
  store: Store;
  url: string;
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
  const store = await Store.open(cfg.databaseUrl ? { databaseUrl: cfg.databaseUrl } : { file: join(cfg.dataDir, 'nestor.db') });
  store.onProblem = (what, err) => logger.warn({ err }, what);
  const generated = await bootstrapTokens(store, cfg);
  const gitops = cfg.gitops ? await startGitops(store, cfg.gitops, cfg.dataDir, logger) : undefined;
  const { app, metrics } = await buildApp({ store, logger, leaseMs, ...(gitops ? { gitops: gitops.routes } : {}) });
  gitops?.registerMetrics(metrics.registry);
  await app.listen({ port: cfg.port, host: cfg.host ?? '0.0.0.0' });
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : cfg.port;

  const reaper = setInterval(async () => {
    try {
      const moved = await store.expireLeases();
      if (moved.requeued.length) {
        metrics.requeued.inc(moved.requeued.length);
        logger.warn({ jobs: moved.requeued }, 'runner stopped heartbeating; jobs requeued');
      }
      if (moved.failed.length) logger.warn({ jobs: moved.failed }, 'runner stopped heartbeating; jobs failed (no attempts left or policy fail)');
    } catch (err) {
      logger.error({ err }, 'lease reaper failed');
    }
  }, Math.min(1000, leaseMs / 3));
  logger.info({ port, store: store.db.kind, leaseMs }, 'nestor server listening');
  return {
    app,
    store,
    url: `http://127.0.0.1:${port}`,
    generated,
    async close() {
      clearInterval(reaper);
      // Requests running at close (a sync, a function call) finish; their keep-alive connections
      // would then hold the close for the keep-alive timeout (72 s) unless closed once idle.
      const idle = setInterval(() => app.server.closeIdleConnections(), 100);
      try {
        await app.close();
      } finally {
        clearInterval(idle);
      }
      await gitops?.close();
      await store.close();
    },
  };
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
