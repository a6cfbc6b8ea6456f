import { mkdtempSync, rmSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { NestorError, errorMessage } from '../errors.ts';
import type { FunctionGateway, FunctionSettings } from '../functions/gateway.ts';
import type { AppRecord, Deployment, DeployedFunction, GitopsStore } from './store.ts';
import { redactFor, targetOf } from './app-record.ts';
import { BuildLog } from './build-log.ts';
import { imageTag, type FunctionBuilder } from './builder.ts';
import type { Deployer } from './deployer.ts';
import type { RepositoryCache } from './git.ts';
import { parseManifest, type FunctionSpec, type Manifest } from './manifest.ts';
import { readManifestFile } from './manifest-file.ts';
import type { Retirer } from './retirer.ts';
import type { TargetClients } from './targets.ts';

export type SyncCause = 'poll' | 'webhook' | 'manual';

export type SyncOutcome =
  | { result: 'unchanged'; commit: string; deployment?: Deployment }
  | { result: 'deployed'; deployment: Deployment }
  | { result: 'failed'; deployment?: Deployment; error: string };

export interface CommitBuildOptions {
  store: GitopsStore;
  cache: RepositoryCache;
  builder: FunctionBuilder;
  gateway: FunctionGateway;
  targets: TargetClients;
  deployer: Deployer;
  retirer: Retirer;
  dataDir: string;
  logger: Logger;
}

/** The serialised settings a deployment keeps for each function, enough to run it again. */
function settingsOf(fn: FunctionSpec): FunctionSettings {
  return { env: fn.env, memoryMb: fn.memoryMb, cpus: fn.cpus, timeoutMs: fn.timeoutMs, concurrency: fn.concurrency, warm: fn.warm, idleTimeoutMs: fn.idleTimeoutMs, network: fn.network };
}

/**
 * Building: one commit of one application from its source to a recorded deployment. The
 * commit is exported, its manifest read and checked, each function built in a nested engine
 * and its image delivered, then the deployer puts it behind the gateway and retention prunes.
 */
export class CommitBuild {
  private readonly opts: CommitBuildOptions;

  constructor(opts: CommitBuildOptions) {
    this.opts = opts;
  }

  /** Builds `commit` of `app` and deploys it; a failure is recorded and changes nothing that serves. */
  async run(app: AppRecord, commit: string, cause: SyncCause): Promise<SyncOutcome> {
    const { store, logger } = this.opts;
    const work = mkdtempSync(join(this.workRoot(), `${app.name}-`));
    const log = new BuildLog(store, app, () => deployment?.seq, (t) => redactFor(app, t));
    let deployment: Deployment | undefined;
    try {
      await this.opts.cache.export(app.repoUrl, commit, work);
      const message = await this.opts.cache.describe(app.repoUrl, commit).catch(() => '');
      deployment = await store.startDeployment({ namespace: app.namespace, app: app.name, commit, message, cause, functions: [], rollbackOf: null });
      log.write(`[nestor] sync of ${app.namespace}/${app.name} at ${commit.slice(0, 12)} (${cause})\n`);
      const manifest = this.readManifest(work, app, (t) => log.write(t));
      const target = await this.opts.targets.client(app, targetOf(app));
      const tag = imageTag(commit);
      const built = await this.opts.builder.build(
        { namespace: app.namespace, app: app.name, commit, repoRoot: work, sourcePath: app.path, functions: manifest.functions, target, log: (t) => log.write(t) },
        tag,
      );
      const functions: DeployedFunction[] = manifest.functions.map((fn) => {
        const b = built.find((x) => x.path === fn.path)!;
        return { path: fn.path, image: b.image, spec: settingsOf(fn), buildMs: Math.round(b.buildMs), dockerfile: b.dockerfile };
      });
      for (const fn of functions) await store.recordImage(fn.image, app.namespace, app.name, fn.path);
      await store.finishDeployment(app.namespace, app.name, deployment.seq, { status: 'built', functions });
      log.write('[nestor] built; starting the new instances\n');
      const notice = await this.opts.deployer.activate(app, functions);
      if (notice) log.write(`[nestor] notice: ${notice}\n`);
      await store.finishDeployment(app.namespace, app.name, deployment.seq, { status: 'deployed', functions });
      await store.setCurrent(app.namespace, app.name, deployment.seq);
      this.opts.deployer.served(app, deployment.seq);
      await store.setLastCommit(app.namespace, app.name, commit);
      log.write(`[nestor] deployed ${functions.map((f) => f.path).join(', ') || 'no functions'}\n`);
      await log.flush();
      await this.opts.retirer.prune(app, manifest.keepImages, functions).catch((err: unknown) => logger.warn({ err }, 'image retention failed'));
      logger.info({ app: `${app.namespace}/${app.name}`, seq: deployment.seq, commit }, 'deployed');
      return { result: 'deployed', deployment: (await store.deployment(app.namespace, app.name, deployment.seq))! };
    } catch (err) {
      const error = redactFor(app, err instanceof NestorError ? err.describe() : errorMessage(err));
      log.write(`[nestor] sync failed: ${error}\n`);
      await log.flush();
      // The commit is recorded as seen, so polling does not rebuild a broken commit again and
      // again; the previous deployment keeps serving.
      await store.setLastCommit(app.namespace, app.name, commit);
      if (deployment) await store.finishDeployment(app.namespace, app.name, deployment.seq, { status: 'failed', error });
      logger.warn({ app: `${app.namespace}/${app.name}`, commit, error }, 'sync failed');
      return { result: 'failed', error, ...(deployment ? { deployment: (await store.deployment(app.namespace, app.name, deployment.seq))! } : {}) };
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  }

  private workRoot(): string {
    const dir = join(this.opts.dataDir, 'gitops', 'work');
    if (!existsSync(dir)) mkdirSync(dir, { recursive: true });
    return dir;
  }

  private readManifest(work: string, app: AppRecord, log: (text: string) => void): Manifest {
    const found = readManifestFile(work, app.path);
    log(`[nestor] reading ${found.file}${found.ignored ? ` (${found.ignored} is not read: nestor.yaml comes first)` : ''}\n`);
    const manifest = parseManifest(found.file, found.text);
    if (manifest.name !== app.name || manifest.namespace !== app.namespace) {
      throw new NestorError('NESTOR_MANIFEST_MISMATCH', `${found.file} names ${manifest.namespace}/${manifest.name}, but this application is ${app.namespace}/${app.name}`, 'Make metadata.name and metadata.namespace in the repository match the application, or add the application under the names the manifest uses.');
    }
    for (const fn of manifest.functions) {
      const owner = this.opts.gateway.owner(app.namespace, fn.path);
      if (owner && owner !== app.name) throw new NestorError('NESTOR_FUNCTION_TAKEN', `/fn/${app.namespace}/${fn.path} is served by application ${owner}`, 'Use another path, or another namespace.');
    }
    return manifest;
  }
}
