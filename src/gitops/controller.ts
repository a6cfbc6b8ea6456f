import { mkdtempSync, rmSync, existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { NestorError, errorMessage } from '../errors.ts';
import { backoffDelay } from '../backoff.ts';
import type { FunctionGateway, FunctionSettings } from '../functions/gateway.ts';
import { redactSecrets } from '../secrets/redact.ts';
import type { AppRecord, Deployment, DeployedFunction, GitopsStore } from './store.ts';
import { checkNewApp, type Caller } from './access.ts';
import { imageTag, type FunctionBuilder } from './builder.ts';
import { RepositoryCache, checkRepoUrl, remoteHead } from './git.ts';
import { parseManifest, type FunctionSpec, type Manifest } from './manifest.ts';
import { readManifestFile } from './manifest-file.ts';
import { checkLocalRoot, isLocalRepo, splitRepoUrl, type GitCredential, type RepoSource } from './repo-url.ts';
import { checkTarget, type DeployTarget, type TargetClients } from './targets.ts';


export interface NewApp {
  name: string;
  namespace: string;
  /** As given: credentials in it are taken out and kept sealed. */
  repoUrl: string;
  /** Credentials given apart from the URL (they win over any in it); http(s) only. */
  repoCredential?: GitCredential | null;
  branch: string;
  path: string;
  pollIntervalS?: number;
  autoSync?: boolean;
  webhookSecret?: string | null;
  target?: DeployTarget | null;
}

export type SyncCause = 'poll' | 'webhook' | 'manual';

export type SyncOutcome =
  | { result: 'unchanged'; commit: string; deployment?: Deployment }
  | { result: 'deployed'; deployment: Deployment }
  | { result: 'failed'; deployment?: Deployment; error: string };

export interface ControllerOptions {
  store: GitopsStore;
  builder: FunctionBuilder;
  gateway: FunctionGateway;
  targets: TargetClients;
  dataDir: string;
  logger: Logger;
  /** Directories under which the admin may name local repositories (none: no local repository). */
  localRepoRoots?: readonly string[];
  /** How often the controller looks for apps whose poll is due. */
  tickMs?: number;
  maxBackoffS?: number;
  /** The environment git runs in: the server's own (PATH, HOME, SSH_AUTH_SOCK, proxies, GIT_SSH_COMMAND). */
  gitEnv: NodeJS.ProcessEnv;
}

export const DEFAULT_POLL_S = 60;

/** The serialised settings a deployment keeps for each function, enough to run it again. */
function settingsOf(fn: FunctionSpec): FunctionSettings {
  return { env: fn.env, memoryMb: fn.memoryMb, cpus: fn.cpus, timeoutMs: fn.timeoutMs, concurrency: fn.concurrency, warm: fn.warm, idleTimeoutMs: fn.idleTimeoutMs, network: fn.network };
}

function targetOf(app: AppRecord): DeployTarget | null {
  return app.target ? (JSON.parse(app.target) as DeployTarget) : null;
}

function sourceOf(app: AppRecord): RepoSource {
  return { url: app.repoUrl, credential: app.repoCredential };
}

/** Text about an application with its secrets taken out, for errors, build logs and the server log. */
export function redactFor(app: Pick<AppRecord, 'repoCredential' | 'webhookSecret'>, text: string): string {
  return redactSecrets(text, [app.repoCredential?.password, app.repoCredential?.username, app.webhookSecret]);
}

/**
 * The GitOps loop: polls each application's branch (or is woken by a webhook), builds what
 * changed in a nested engine, records a deployment, and puts the new images behind the
 * gateway. A failed sync changes nothing that serves; an unchanged commit builds nothing.
 */
export class GitopsController {
  private readonly opts: ControllerOptions;
  private readonly cache: RepositoryCache;
  /** One sync at a time per application; later requests wait for the one running. */
  private readonly running = new Map<string, Promise<unknown>>();
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private stopped = false;
  /** The deployment this server's gateway serves per application, to follow other servers' changes. */
  private readonly serving = new Map<string, number>();
  /** When to try again to serve a deployment that could not be activated. */
  private readonly followRetryAt = new Map<string, number>();

  constructor(opts: ControllerOptions) {
    this.opts = opts;
    this.cache = new RepositoryCache(join(opts.dataDir, 'gitops', 'repositories'), opts.gitEnv);
  }

  /** Puts every application's current deployment back behind the gateway, then starts polling. */
  async start(): Promise<void> {
    // Build engines are kept ready only where there are applications to build.
    if ((await this.opts.store.apps()).length) this.opts.builder.warm();
    const abandoned = await this.opts.store.abandonSyncing(this.opts.store.shared ? 30 * 60_000 : 0);
    if (abandoned) this.opts.logger.warn({ deployments: abandoned }, 'syncs interrupted by a stop were marked failed');
    for (const app of await this.opts.store.apps()) {
      if (app.currentDeployment === null) continue;
      const d = await this.opts.store.deployment(app.namespace, app.name, app.currentDeployment);
      if (!d) continue;
      await this.activate(app, d.functions)
        .then(() => this.serving.set(`${app.namespace}/${app.name}`, d.seq))
        .catch((err: unknown) => this.opts.logger.error({ err, app: `${app.namespace}/${app.name}` }, 'could not restore the deployed functions'));
    }
    this.timer = setInterval(() => {
      // One tick at a time: a slow one (activating a deployment) is not overlapped by the next.
      this.ticking ??= this.pollDue().finally(() => (this.ticking = undefined));
    }, this.opts.tickMs ?? 1000);
  }

  /** Stops polling; resolves once the tick and the syncs under way are over. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.ticking?.catch(() => undefined);
    await Promise.allSettled([...this.running.values()]);
  }

  /** Adds an application; what `caller` may name (local repositories, targets) is checked first. */
  async addApp(input: NewApp, caller: Caller): Promise<AppRecord> {
    checkRepoUrl(input.repoUrl);
    const source = splitRepoUrl(input.repoUrl);
    if (input.repoCredential) {
      if (!/^https?:\/\//i.test(source.url)) throw new NestorError('NESTOR_REPO_CREDENTIALS_UNUSED', `Repository credentials were given for ${source.url}, but Git uses them only for http:// and https:// repositories`, 'Leave repo_credentials out; ssh:// repositories log in with a key (the server\'s ssh agent or ~/.ssh).');
      source.credential = input.repoCredential;
    }
    checkNewApp({ repoUrl: source.url, target: input.target ?? null }, caller, this.opts.localRepoRoots ?? []);
    if (input.target) checkTarget(input.target);
    const added = await this.opts.store.addApp({
      namespace: input.namespace,
      name: input.name,
      repoUrl: source.url,
      repoCredential: source.credential,
      branch: input.branch,
      path: input.path,
      webhookSecret: input.webhookSecret ?? null,
      pollIntervalS: input.pollIntervalS ?? DEFAULT_POLL_S,
      autoSync: input.autoSync ?? true,
      target: input.target ? JSON.stringify(input.target) : null,
      nextPollAt: Date.now(),
    });
    if (!added) throw new NestorError('NESTOR_APP_EXISTS', `Application ${input.namespace}/${input.name} already exists`, 'Remove it first (`nestor apps remove`), or pick another name.');
    this.opts.builder.warm();
    return (await this.opts.store.app(input.namespace, input.name))!;
  }

  async app(namespace: string, name: string): Promise<AppRecord> {
    const app = await this.opts.store.app(namespace, name);
    if (!app) throw new NestorError('NESTOR_APP_NOT_FOUND', `No application ${namespace}/${name}`, 'List them with `nestor apps list`; add one with `nestor apps add`.');
    return app;
  }

  async remove(namespace: string, name: string): Promise<void> {
    const app = await this.app(namespace, name);
    await this.running.get(`${namespace}/${name}`)?.catch(() => undefined);
    if (app.currentDeployment !== null) {
      const d = await this.opts.store.deployment(namespace, name, app.currentDeployment);
      for (const fn of d?.functions ?? []) await this.opts.gateway.undeploy(namespace, fn.path);
    }
    // Its images go too: nothing Nestor built for an application outlives it. Without a deploy
    // target they are in the application's own engine, which goes with them.
    const deployTarget = targetOf(app);
    const target = deployTarget ? await this.opts.targets.client(app, deployTarget).catch(() => undefined) : undefined;
    for (const image of await this.opts.store.appImages(namespace, name)) {
      await target?.docker.getImage(image).remove().catch(() => undefined);
      await this.opts.builder.removeFromRegistry(image).catch(() => false);
    }
    if (!deployTarget) await this.opts.targets.local.retire(app);
    await this.opts.store.removeApp(namespace, name);
    this.serving.delete(`${namespace}/${name}`);
  }

  /** Syncs now; a second call while one runs waits for it and then syncs again if needed. */
  sync(namespace: string, name: string, cause: SyncCause, opts: { force?: boolean } = {}): Promise<SyncOutcome> {
    return this.exclusive(`${namespace}/${name}`, () => this.syncOnce(namespace, name, cause, opts.force ?? false));
  }

  /** Runs `body` after whatever this server is doing to the same application. */
  private exclusive<T>(key: string, body: () => Promise<T>): Promise<T> {
    const previous = this.running.get(key) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(body);
    this.running.set(key, next);
    void next
      .finally(() => {
        if (this.running.get(key) === next) this.running.delete(key);
      })
      .catch(() => undefined);
    return next;
  }

  private async pollDue(): Promise<void> {
    if (this.stopped) return;
    const now = Date.now();
    const apps = await this.opts.store.apps().catch(() => undefined);
    if (!apps) return;
    for (const app of apps) {
      const key = `${app.namespace}/${app.name}`;
      if (this.stopped) return;
      if (this.running.has(key)) continue;
      await this.follow(app);
      if (!app.autoSync || app.nextPollAt > now) continue;
      // Servers sharing one database take turns: the one whose claim lands polls.
      if (!(await this.opts.store.claimPoll(app.namespace, app.name, app.nextPollAt, now + app.pollIntervalS * 1000).catch(() => false))) continue;
      // Cheap check first: ls-remote asks for one ref and fetches nothing.
      void this.sync(app.namespace, app.name, 'poll').catch(() => undefined);
    }
    if (this.stopped) return;
    // Applications removed (perhaps through another server) stop being served here.
    const known = new Set(apps.map((a) => `${a.namespace}/${a.name}`));
    for (const served of this.opts.gateway.list()) {
      if (!known.has(`${served.namespace}/${served.app}`)) await this.opts.gateway.undeploy(served.namespace, served.path);
    }
  }

  /** Serves what the store says is current, when another server deployed or rolled back. */
  private async follow(app: AppRecord): Promise<void> {
    const key = `${app.namespace}/${app.name}`;
    if (app.currentDeployment === null || this.serving.get(key) === app.currentDeployment) return;
    if ((this.followRetryAt.get(key) ?? 0) > Date.now()) return;
    const d = await this.opts.store.deployment(app.namespace, app.name, app.currentDeployment);
    if (!d) return;
    try {
      await this.activate(app, d.functions);
      this.serving.set(key, d.seq);
      this.followRetryAt.delete(key);
    } catch (err) {
      this.followRetryAt.set(key, Date.now() + 30_000);
      this.opts.logger.warn({ err, app: key, seq: d.seq }, 'could not serve the current deployment; trying again in 30 s');
    }
  }

  private async recordPoll(app: AppRecord, error: string | null): Promise<void> {
    const failures = error ? app.failures + 1 : 0;
    const maxBackoff = this.opts.maxBackoffS ?? 600;
    // Back off on failures: interval × 2^failures, at most maxBackoff (and never less than the interval).
    const delayS = error ? backoffDelay(failures, { base: app.pollIntervalS, max: Math.max(app.pollIntervalS, maxBackoff), maxDoublings: 10 }) : app.pollIntervalS;
    await this.opts.store.setPollOutcome(app.namespace, app.name, { error, failures, nextPollAt: Date.now() + delayS * 1000 });
    if (error) this.opts.logger.warn({ app: `${app.namespace}/${app.name}`, failures, retryInS: delayS, error }, 'repository check failed; retrying with back-off');
  }

  /** `force` builds the branch's commit again even when it was seen (after fixing credentials, say). */
  private async syncOnce(namespace: string, name: string, cause: SyncCause, force: boolean): Promise<SyncOutcome> {
    const app = await this.app(namespace, name);
    let commit: string;
    try {
      // Checked at every sync too: an application stored before the roots existed, or a link changed since.
      if (isLocalRepo(app.repoUrl)) checkLocalRoot(app.repoUrl, this.opts.localRepoRoots ?? []);
      commit = cause === 'poll' ? await remoteHead(sourceOf(app), app.branch, this.opts.gitEnv) : await this.cache.fetch(sourceOf(app), app.branch);
      if (commit !== app.lastCommit && cause === 'poll') commit = await this.cache.fetch(sourceOf(app), app.branch);
    } catch (err) {
      const error = redactFor(app, err instanceof NestorError && err.code === 'NESTOR_REPO_OUTSIDE_ROOTS' ? err.describe() : errorMessage(err));
      await this.recordPoll(app, error);
      return { result: 'failed', error };
    }
    await this.recordPoll(app, null);
    // Claimed before the build: another server sharing the store does not build it too.
    const seen = commit === app.lastCommit || !(await this.opts.store.claimCommit(app.namespace, app.name, app.lastCommit, commit));
    if (seen && !force) return this.unchanged(app.namespace, app.name, commit);
    return this.deployCommit(app, commit, cause);
  }

  /** Nothing to build; says what serves, which may be a sync that just ran for the same commit. */
  private async unchanged(namespace: string, name: string, commit: string): Promise<SyncOutcome> {
    const current = (await this.app(namespace, name)).currentDeployment;
    const deployment = current === null ? undefined : await this.opts.store.deployment(namespace, name, current);
    return { result: 'unchanged', commit, ...(deployment ? { deployment } : {}) };
  }

  private async deployCommit(app: AppRecord, commit: string, cause: SyncCause): Promise<SyncOutcome> {
    const { store, logger } = this.opts;
    const work = mkdtempSync(join(this.workRoot(), `${app.name}-`));
    const log = new BuildLog(store, app, () => deployment?.seq, (t) => redactFor(app, t));
    let deployment: Deployment | undefined;
    try {
      await this.cache.export(app.repoUrl, commit, work);
      const message = await this.cache.describe(app.repoUrl, commit).catch(() => '');
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
      const notice = await this.activate(app, functions);
      if (notice) log.write(`[nestor] notice: ${notice}\n`);
      await store.finishDeployment(app.namespace, app.name, deployment.seq, { status: 'deployed', functions });
      await store.setCurrent(app.namespace, app.name, deployment.seq);
      this.serving.set(`${app.namespace}/${app.name}`, deployment.seq);
      await store.setLastCommit(app.namespace, app.name, commit);
      log.write(`[nestor] deployed ${functions.map((f) => f.path).join(', ') || 'no functions'}\n`);
      await log.flush();
      await this.prune(app, manifest.keepImages, functions).catch((err: unknown) => logger.warn({ err }, 'image retention failed'));
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

  /**
   * Puts a deployment's images behind the gateway and takes away functions it no longer has.
   * Answers what the build log should say about how the functions are limited.
   */
  private async activate(app: AppRecord, functions: DeployedFunction[]): Promise<string | undefined> {
    const deployTarget = targetOf(app);
    const target = await this.opts.targets.client(app, deployTarget);
    // The application's own engine is sized before its instances start: with no per-instance
    // cgroups (rootless on cgroup v1) its limits are the functions' limits.
    const notice = deployTarget
      ? undefined
      : await this.opts.targets.local.resize(app, {
          memoryMb: functions.reduce((sum, fn) => sum + fn.spec.memoryMb * Math.max(fn.spec.concurrency, fn.spec.warm), 0),
          cpus: functions.reduce((sum, fn) => sum + fn.spec.cpus * fn.spec.concurrency, 0),
        });
    await Promise.all(
      functions.map((fn) => this.opts.gateway.deploy({ namespace: app.namespace, path: fn.path, app: app.name, image: fn.image, docker: target.docker, settings: fn.spec })),
    );
    const keep = new Set(functions.map((f) => f.path));
    for (const served of this.opts.gateway.list()) {
      if (served.namespace === app.namespace && served.app === app.name && !keep.has(served.path)) await this.opts.gateway.undeploy(app.namespace, served.path);
    }
    return notice;
  }

  /** Rolls back to deployment `seq`: its images serve again, recorded as a new deployment. */
  rollback(namespace: string, name: string, seq: number): Promise<Deployment> {
    return this.exclusive(`${namespace}/${name}`, () => this.rollbackOnce(namespace, name, seq));
  }

  private async rollbackOnce(namespace: string, name: string, seq: number): Promise<Deployment> {
    const key = `${namespace}/${name}`;
    const app = await this.app(namespace, name);
    const to = await this.opts.store.deployment(namespace, name, seq);
    if (!to) throw new NestorError('NESTOR_DEPLOYMENT_NOT_FOUND', `${namespace}/${name} has no deployment ${seq}`, 'See the numbers with `nestor apps history`.');
    if (to.status !== 'deployed' || !to.functions.length) throw new NestorError('NESTOR_ROLLBACK_REFUSED', `Deployment ${seq} of ${namespace}/${name} is ${to.status}${to.functions.length ? '' : ' with no functions'}; only a deployment that was deployed can serve again`, 'Pick a deployed one from `nestor apps history`.');
    for (const fn of to.functions) {
      if (await this.opts.store.isPruned(fn.image)) throw new NestorError('NESTOR_IMAGE_PRUNED', `The image ${fn.image} of deployment ${seq} was pruned by retention (keepImages)`, 'Roll back to a newer deployment, or raise spec.keepImages in nestor.yaml to keep more images.');
    }
    const d = await this.opts.store.startDeployment({ namespace, app: name, commit: to.commit, message: to.message, cause: 'rollback', functions: to.functions, rollbackOf: seq });
    try {
      await this.activate(app, to.functions);
    } catch (err) {
      await this.opts.store.finishDeployment(namespace, name, d.seq, { status: 'failed', error: errorMessage(err) });
      throw err;
    }
    await this.opts.store.appendBuildLog(namespace, name, d.seq, `[nestor] rollback to deployment ${seq} (${to.commit.slice(0, 12)}); nothing built\n`);
    await this.opts.store.finishDeployment(namespace, name, d.seq, { status: 'deployed' });
    await this.opts.store.setCurrent(namespace, name, d.seq);
    this.serving.set(key, d.seq);
    this.opts.logger.info({ app: key, to: seq, seq: d.seq }, 'rolled back');
    return (await this.opts.store.deployment(namespace, name, d.seq))!;
  }

  /** Keeps the newest `keep` images of each function (and whatever serves now); removes the rest. */
  private async prune(app: AppRecord, keep: number, serving: DeployedFunction[]): Promise<void> {
    const target = await this.opts.targets.client(app, targetOf(app));
    const inUse = new Set(serving.map((f) => f.image));
    // Instances of replaced deployments may still be going; their images cannot go before them.
    await this.opts.gateway.settled();
    for (const fn of serving) {
      const live = await this.opts.store.liveImages(app.namespace, app.name, fn.path);
      for (const image of live.slice(keep)) {
        if (inUse.has(image)) continue;
        const removed = await target.docker.getImage(image).remove().then(
          () => true,
          (err: { statusCode?: number; message?: string }) => {
            if (err.statusCode === 404) return true;
            this.opts.logger.warn({ image, err: err.message }, 'image kept for now; retention tries again after the next deployment');
            return false;
          },
        );
        if (!removed) continue;
        await this.opts.builder.removeFromRegistry(image).catch(() => false);
        await this.opts.store.markPruned(image);
        this.opts.logger.info({ app: `${app.namespace}/${app.name}`, image }, 'image pruned (retention)');
      }
    }
  }
}

/** Build output, appended to the deployment in batches instead of one write per line. */
class BuildLog {
  private buffer = '';
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private readonly store: GitopsStore;
  private readonly app: AppRecord;
  private readonly seq: () => number | undefined;
  private readonly redact: (text: string) => string;

  constructor(store: GitopsStore, app: AppRecord, seq: () => number | undefined, redact: (text: string) => string) {
    this.store = store;
    this.app = app;
    this.seq = seq;
    this.redact = redact;
  }

  private readonly started = performance.now();

  /** Nestor's own lines carry the time since the sync began, so slow phases show. */
  write(text: string): void {
    this.buffer += text.startsWith('[nestor] ') ? `[nestor +${Math.round(performance.now() - this.started)} ms] ${text.slice(9)}` : text;
    this.timer ??= setTimeout(() => void this.flush(), 300);
  }

  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const seq = this.seq();
    if (seq === undefined || !this.buffer) return this.chain;
    // Redacted as a whole, not per write: a secret may arrive cut across two chunks of output.
    const text = this.redact(this.buffer);
    this.buffer = '';
    this.chain = this.chain.then(() => this.store.appendBuildLog(this.app.namespace, this.app.name, seq, text)).catch(() => undefined);
    return this.chain;
  }
}
