import { createHash, randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { ping, type EngineClient } from '../engine/engine-client.ts';
import { cleanupOrphans, removeLabelled } from '../engine/cleanup.ts';
import { LABEL_ENGINE, LABEL_MANAGED } from '../engine/labels.ts';
import { attachEngine, findEngineContainer } from '../engine/nested/attach.ts';
import { EngineNameTakenError, provision } from '../engine/nested/provision.ts';
import type { EngineImages } from '../engine/images/local-images.ts';
import { errorMessage } from '../errors.ts';
import { sleep } from '../sleep.ts';

/** Which application an engine serves, on its sidecar's labels (for `docker ps` and clean-up). */
export const LABEL_FUNCTIONS_APP = 'dev.nestor.functions-app';

export interface AppKey {
  namespace: string;
  name: string;
}

/** What a deployment asks of its engine: enough room for every function at its concurrency. */
export interface EngineNeeds {
  memoryMb: number;
  cpus: number;
}

export interface FunctionEnginesOptions {
  host: EngineClient;
  logger: Logger;
  engineImages?: EngineImages;
  /** The host's CPUs: an engine is never given more. */
  hostCpus: number;
}

/** Room for the engine's own dockerd, containerd and the request loops, beyond the functions'. */
const ENGINE_OVERHEAD_MB = 256;
const MIN_MEMORY_MB = 512;

/** `fn-` and a hash: a DNS label whatever the namespace and name hold, and the same on every server. */
export function functionEngineName(app: AppKey): string {
  return `fn-${createHash('sha256').update(`${app.namespace}/${app.name}`).digest('hex').slice(0, 12)}`;
}

/**
 * The engines an application's functions run in, one per application, on this server's host
 * engine.
 *
 * A function is code from a repository, as untrusted as a job, so it gets a job's isolation:
 * its own nested engine in the strongest mode the host offers (the rootless engine here),
 * where root and every capability are the user namespace's, not the host's. One application
 * is one trust boundary, like one job: its functions share an engine, other applications'
 * functions never do, so one cannot see, starve or signal another's instances.
 *
 * The engines are persistent: they keep their images (on a volume) and run across server
 * restarts, and every server on the same host engine serves an application from the same one,
 * so a deployment built by one server is served by the others without copying images. An
 * engine goes when its application is removed (or with `nestor engine cleanup --all`).
 */
export class FunctionEngines {
  private readonly opts: FunctionEnginesOptions;
  private readonly engines = new Map<string, Promise<EngineClient>>();

  constructor(opts: FunctionEnginesOptions) {
    this.opts = opts;
  }

  /** The application's engine, started (or found, or started again) on first use. */
  client(app: AppKey): Promise<EngineClient> {
    const name = functionEngineName(app);
    let engine = this.engines.get(name);
    if (!engine) {
      engine = this.open(app, name);
      this.engines.set(name, engine);
      engine.catch(() => this.engines.delete(name));
    }
    return engine;
  }

  /**
   * Sizes the application's engine for a deployment. The rootless engine of a cgroup v1 host
   * cannot limit each instance, so the sidecar's own limits are what bound the functions: the
   * sum over functions of memory × concurrency, and as many CPUs as they may use at once.
   * Answers what the build log should say when per-instance limits are not kept.
   */
  async resize(app: AppKey, needs: EngineNeeds): Promise<string | undefined> {
    const client = await this.client(app);
    const info = (await client.docker.info()) as { MemoryLimit?: boolean };
    const memoryMb = Math.max(MIN_MEMORY_MB, Math.ceil(needs.memoryMb) + ENGINE_OVERHEAD_MB);
    const cpus = Math.min(this.opts.hostCpus, Math.max(1, needs.cpus));
    const container = await findEngineContainer(this.opts.host.docker, functionEngineName(app));
    if (container) {
      await this.opts.host.docker
        .getContainer(container.Id)
        .update({ Memory: memoryMb * 1024 * 1024, MemorySwap: memoryMb * 1024 * 1024, NanoCpus: Math.round(cpus * 1e9) })
        .catch((err: unknown) => this.opts.logger.warn({ err: errorMessage(err), app: `${app.namespace}/${app.name}` }, 'could not resize the functions engine'));
    }
    if (info.MemoryLimit) return undefined;
    return `this host's user-namespaced engine cannot limit each instance's memory and CPU; the application's functions share its engine's limits, ${memoryMb} MB and ${cpus} CPU${cpus === 1 ? '' : 's'} (the sum of memory × concurrency)`;
  }

  /** Removes the application's engine, its images and its network: the application is gone. */
  async retire(app: AppKey): Promise<void> {
    const name = functionEngineName(app);
    const open = this.engines.get(name);
    this.engines.delete(name);
    await open?.catch(() => undefined);
    await removeLabelled(this.opts.host.docker, [`${LABEL_MANAGED}=true`, `${LABEL_ENGINE}=${name}`]);
  }

  private async open(app: AppKey, name: string): Promise<EngineClient> {
    const client = (await this.attach(name)) ?? (await this.start(app, name));
    // Instances of a server that died while they ran belong to nobody now.
    await cleanupOrphans(client.docker).catch((err: unknown) => this.opts.logger.warn({ err: errorMessage(err) }, 'orphan clean-up in the functions engine failed'));
    return client;
  }

  /** The engine made earlier (by this server or another on the host), started again if it was stopped. */
  private async attach(name: string): Promise<EngineClient | undefined> {
    const host = this.opts.host;
    const found = await findEngineContainer(host.docker, name);
    if (!found) return undefined;
    // A host reboot or a Docker restart stops it; its images are on its volume.
    if (found.State !== 'running') await host.docker.getContainer(found.Id).start().catch(ignoreAlreadyStarted);
    return attachWhenAnswering(host, name, 30_000);
  }

  private async start(app: AppKey, name: string): Promise<EngineClient> {
    try {
      const engine = await provision({
        host: this.opts.host,
        name,
        persistent: true,
        // Each attempt its own network: two servers making this engine at once then race only
        // for the container's name, which exactly one of them gets.
        networkName: `nestor-${name}-${randomBytes(3).toString('hex')}`,
        storage: { kind: 'volume' },
        memoryMb: MIN_MEMORY_MB + ENGINE_OVERHEAD_MB,
        cpus: 1,
        extraLabels: { [LABEL_FUNCTIONS_APP]: `${app.namespace}/${app.name}` },
        ...(this.opts.engineImages ? { engineImages: this.opts.engineImages } : {}),
      });
      this.opts.logger.info({ app: `${app.namespace}/${app.name}`, engine: name, isolation: engine.isolation, readyMs: Math.round(engine.readyMs) }, 'functions engine started');
      return engine.client;
    } catch (err) {
      // Another server on this host is making it at this moment: use that one once it answers.
      if (err instanceof EngineNameTakenError) return attachWhenAnswering(this.opts.host, name, 60_000);
      throw err;
    }
  }
}

function ignoreAlreadyStarted(err: { statusCode?: number }): void {
  if (err.statusCode !== 304) throw err;
}

/**
 * Attaches to the engine once it answers. Its client certificates are read again on each try:
 * an engine another process is still making may not hold its own yet.
 */
async function attachWhenAnswering(host: EngineClient, name: string, timeoutMs: number): Promise<EngineClient> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const { client } = await attachEngine(host, name);
      await ping(client, 1000);
      return client;
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(200);
    }
  }
}
