import { randomUUID } from 'node:crypto';
import { availableParallelism } from 'node:os';
import type { Logger } from 'pino';
import { Counter, Histogram, type Registry } from 'prom-client';
import type { EngineClient } from '../engine/engine-client.ts';
import type { SshLogin } from '../engine/docker-host.ts';
import type { EngineImages } from '../engine/images/local-images.ts';
import { cleanupOrphans } from '../engine/cleanup.ts';
import type { ImageSupply } from '../engine/images/supply.ts';
import { FunctionGateway } from '../functions/gateway.ts';
import { FunctionBuilder, registryFromSetting } from './builder.ts';
import { GitopsController } from './controller.ts';
import { TargetClients } from './targets.ts';
import { FunctionEngines } from './function-engines.ts';
import type { SecretBox } from '../secrets/secret-box.ts';
import type { Database } from '../store/database.ts';
import { openSecrets } from './open-secrets.ts';
import { GitopsStore } from './store.ts';
import { WebhookDeliveries } from './webhook-deliveries.ts';

export interface GitopsConfig {
  host: EngineClient;
  supply?: ImageSupply;
  /** `local` (Nestor's registry) or HOST[:PORT]/PREFIX of another registry. */
  registry?: string;
  webhookSecret?: string;
  /** Registries reached over plain HTTP (HOST:PORT), for sites that run one without TLS. */
  insecureRegistries?: string[];
  /** Build engines kept started (0: each build starts one). */
  buildWarm?: number;
  /**
   * The key that seals secrets in the store (NESTOR_SECRET_KEY, 32 bytes); without it,
   * DATA_DIR/secret.key, made at the first start. Servers sharing a database need the same one.
   */
  secretKey?: Buffer;
  /** The box from `openSecrets`, when the server start opened it already (then `secretKey` is not read). */
  secrets?: SecretBox;
  /** Directories under which the admin may add local repositories (NESTOR_LOCAL_REPO_ROOTS); none by default. */
  localRepoRoots?: string[];
  /** How long a webhook delivery is remembered, so that a replay runs nothing (default 7 days). */
  webhookReplayWindowMs?: number;
  tickMs?: number;
  maxBackoffS?: number;
  /**
   * The environment git runs in: the server's own (PATH, HOME, SSH_AUTH_SOCK, proxies,
   * GIT_SSH_COMMAND), given by the CLI as process.env.
   */
  gitEnv: NodeJS.ProcessEnv;
  /** How ssh:// deploy targets are logged in to: the server's agent and key (SSH_AUTH_SOCK, NESTOR_SSH_KEY). */
  sshLogin?: SshLogin;
  /** Images nested build engines start from instead of Nestor's own (NESTOR_ROOTLESS_IMAGE, NESTOR_DIND_IMAGE). */
  engineImages?: EngineImages;
}

/** What the server's GitOps routes are given: the parts `startGitops` started. */
export interface GitopsParts {
  controller: GitopsController;
  gateway: FunctionGateway;
  store: GitopsStore;
  /** Webhook deliveries already processed, shared by the servers on one store. */
  deliveries: WebhookDeliveries;
  /** Used when an application has no webhook secret of its own. */
  webhookSecret?: string;
}

/** How many CPUs the host engine has (the engine may be on another machine than the server). */
async function hostCpus(host: EngineClient): Promise<number> {
  return ((await host.docker.info().catch(() => ({}))) as { NCPU?: number }).NCPU ?? availableParallelism();
}

/** The GitOps controller, builder and function gateway of one server, started together. */
export async function startGitops(store: { readonly db: Database }, cfg: GitopsConfig, dataDir: string, logger: Logger) {
  const box = cfg.secrets ?? (await openSecrets(store.db, dataDir, cfg.secretKey, logger));
  const gitopsStore = new GitopsStore(store.db, box);
  // Function containers left by a server that died are not anyone's any more.
  await cleanupOrphans(cfg.host.docker).catch((err: unknown) => logger.warn({ err }, 'orphan clean-up failed'));
  const gateway = new FunctionGateway();
  const builder = new FunctionBuilder({
    host: cfg.host,
    ...(cfg.supply ? { supply: cfg.supply } : {}),
    registry: registryFromSetting(cfg.registry),
    credentials: (registry) => gitopsStore.credential(registry),
    allCredentials: () => gitopsStore.credentials(),
    warm: cfg.buildWarm ?? 1,
    ...(cfg.insecureRegistries ? { insecureRegistries: cfg.insecureRegistries } : {}),
    ...(cfg.engineImages ? { engine: { engineImages: cfg.engineImages } } : {}),
  });
  const controller = new GitopsController({
    store: gitopsStore,
    builder,
    gateway,
    targets: new TargetClients(
      new FunctionEngines({ host: cfg.host, logger, hostCpus: await hostCpus(cfg.host), ...(cfg.engineImages ? { engineImages: cfg.engineImages } : {}) }),
      cfg.sshLogin,
    ),
    dataDir,
    logger,
    localRepoRoots: cfg.localRepoRoots ?? [],
    ...(cfg.tickMs ? { tickMs: cfg.tickMs } : {}),
    ...(cfg.maxBackoffS ? { maxBackoffS: cfg.maxBackoffS } : {}),
    gitEnv: cfg.gitEnv,
  });
  gateway.onInvocation((id, result) => {
    void gitopsStore
      .recordInvocation({ id: randomUUID(), namespace: id.namespace, functionPath: id.path, status: result.response.status, startKind: result.start, durationMs: Math.round(result.durationMs), stderr: result.stderr.slice(-8192), time: Date.now() })
      .catch((err: unknown) => logger.warn({ err }, 'could not record an invocation'));
  });
  await controller.start();
  const deliveries = new WebhookDeliveries(store.db, cfg.webhookReplayWindowMs);
  const routes: GitopsParts = { controller, gateway, store: gitopsStore, deliveries, ...(cfg.webhookSecret ? { webhookSecret: cfg.webhookSecret } : {}) };
  return {
    routes,
    controller,
    gateway,
    registerMetrics(registry: Registry) {
      const invocations = new Counter({ name: 'nestor_function_invocations_total', help: 'Function invocations by outcome and by cold or warm start', labelNames: ['namespace', 'function', 'start', 'status'], registers: [registry] });
      const duration = new Histogram({ name: 'nestor_function_duration_seconds', help: 'Function invocation time, cold and warm starts apart', labelNames: ['start'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [registry] });
      gateway.onInvocation((id, result) => {
        invocations.inc({ namespace: id.namespace, function: id.path, start: result.start, status: String(result.response.status) });
        duration.observe({ start: result.start }, result.durationMs / 1000);
      });
    },
    async close() {
      await controller.stop();
      await gateway.close();
      await builder.close();
    },
  };
}

