import { join } from 'node:path';
import type { Logger } from 'pino';
import { NestorError } from '../errors.ts';
import type { FunctionGateway } from '../functions/gateway.ts';
import type { AppRecord, Deployment, GitopsStore } from './store.ts';
import { checkNewApp, type Caller } from './access.ts';
import type { FunctionBuilder } from './builder.ts';
import { CommitBuild, type SyncCause, type SyncOutcome } from './commit-build.ts';
import { Deployer } from './deployer.ts';
import { RepositoryCache, checkRepoUrl } from './git.ts';
import { splitRepoUrl, type GitCredential } from './repo-url.ts';
import { Retirer } from './retirer.ts';
import { checkTarget, type DeployTarget, type TargetClients } from './targets.ts';
import { Watcher } from './watcher.ts';

export { redactFor } from './app-record.ts';

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

export type { SyncCause, SyncOutcome };

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

/**
 * The GitOps loop, in four parts along its seams: the watcher polls each application's branch
 * (or a webhook wakes a sync), the commit build builds what changed in a nested engine and
 * records a deployment, the deployer puts the new images behind the gateway, and the retirer
 * removes what retention or a removal lets go. This class holds the applications and runs
 * one sync at a time per application. A failed sync changes nothing that serves; an
 * unchanged commit builds nothing.
 */
export class GitopsController {
  private readonly opts: ControllerOptions;
  /** One sync at a time per application; later requests wait for the one running. */
  private readonly running = new Map<string, Promise<unknown>>();
  private readonly deployer: Deployer;
  private readonly retirer: Retirer;
  private readonly builds: CommitBuild;
  private readonly watcher: Watcher;

  constructor(opts: ControllerOptions) {
    this.opts = opts;
    const cache = new RepositoryCache(join(opts.dataDir, 'gitops', 'repositories'), opts.gitEnv);
    const { store, gateway, targets, builder, logger } = opts;
    this.deployer = new Deployer({ store, gateway, targets, logger });
    this.retirer = new Retirer({ store, gateway, targets, builder, logger });
    this.builds = new CommitBuild({ store, cache, builder, gateway, targets, deployer: this.deployer, retirer: this.retirer, dataDir: opts.dataDir, logger });
    this.watcher = new Watcher({
      store,
      cache,
      deployer: this.deployer,
      logger,
      gitEnv: opts.gitEnv,
      localRepoRoots: opts.localRepoRoots ?? [],
      ...(opts.tickMs ? { tickMs: opts.tickMs } : {}),
      ...(opts.maxBackoffS ? { maxBackoffS: opts.maxBackoffS } : {}),
      busy: (app) => this.running.has(`${app.namespace}/${app.name}`),
      due: (app) => void this.sync(app.namespace, app.name, 'poll').catch(() => undefined),
    });
  }

  /** Puts every application's current deployment back behind the gateway, then starts polling. */
  async start(): Promise<void> {
    // Build engines are kept ready only where there are applications to build.
    if ((await this.opts.store.apps()).length) this.opts.builder.warm();
    const abandoned = await this.opts.store.abandonSyncing(this.opts.store.shared ? 30 * 60_000 : 0);
    if (abandoned) this.opts.logger.warn({ deployments: abandoned }, 'syncs interrupted by a stop were marked failed');
    await this.deployer.restore(await this.opts.store.apps());
    this.watcher.start();
  }

  /** Stops polling; resolves once the tick and the syncs under way are over. */
  async stop(): Promise<void> {
    await this.watcher.stop();
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
    await this.retirer.retire(app);
    await this.opts.store.removeApp(namespace, name);
    this.deployer.forget(app);
  }

  /** Syncs now; a second call while one runs waits for it and then syncs again if needed. */
  sync(namespace: string, name: string, cause: SyncCause, opts: { force?: boolean } = {}): Promise<SyncOutcome> {
    return this.exclusive(`${namespace}/${name}`, () => this.syncOnce(namespace, name, cause, opts.force ?? false));
  }

  /** Rolls back to deployment `seq`: its images serve again, recorded as a new deployment. */
  rollback(namespace: string, name: string, seq: number): Promise<Deployment> {
    return this.exclusive(`${namespace}/${name}`, async () => this.deployer.rollback(await this.app(namespace, name), seq));
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

  /** `force` builds the branch's commit again even when it was seen (after fixing credentials, say). */
  private async syncOnce(namespace: string, name: string, cause: SyncCause, force: boolean): Promise<SyncOutcome> {
    const app = await this.app(namespace, name);
    const checked = await this.watcher.check(app, cause);
    if ('error' in checked) return { result: 'failed', error: checked.error };
    const { commit } = checked;
    // Claimed before the build: another server sharing the store does not build it too.
    const seen = commit === app.lastCommit || !(await this.opts.store.claimCommit(app.namespace, app.name, app.lastCommit, commit));
    if (seen && !force) return this.unchanged(app.namespace, app.name, commit);
    return this.builds.run(app, commit, cause);
  }

  /** Nothing to build; says what serves, which may be a sync that just ran for the same commit. */
  private async unchanged(namespace: string, name: string, commit: string): Promise<SyncOutcome> {
    const current = (await this.app(namespace, name)).currentDeployment;
    const deployment = current === null ? undefined : await this.opts.store.deployment(namespace, name, current);
    return { result: 'unchanged', commit, ...(deployment ? { deployment } : {}) };
  }
}
