import type { Logger } from 'pino';
import { NestorError, errorMessage } from '../errors.ts';
import { backoffDelay } from '../backoff.ts';
import type { AppRecord, GitopsStore } from './store.ts';
import { redactFor, sourceOf } from './app-record.ts';
import type { Deployer } from './deployer.ts';
import { remoteHead, type RepositoryCache } from './git.ts';
import { checkLocalRoot, isLocalRepo } from './repo-url.ts';
import type { SyncCause } from './commit-build.ts';

export interface WatcherOptions {
  store: GitopsStore;
  cache: RepositoryCache;
  deployer: Deployer;
  logger: Logger;
  /** The environment git runs in: the server's own (PATH, HOME, SSH_AUTH_SOCK, proxies, GIT_SSH_COMMAND). */
  gitEnv: NodeJS.ProcessEnv;
  localRepoRoots: readonly string[];
  /** How often to look for applications whose poll is due. */
  tickMs?: number;
  maxBackoffS?: number;
  /** Whether this server is syncing the application now (then its poll waits). */
  busy: (app: AppRecord) => boolean;
  /** An application's poll is due, and this server claimed it. */
  due: (app: AppRecord) => void;
}

/**
 * Watching: which commit each application's branch is at. A tick looks for polls that are
 * due (servers sharing a store take turns through a claim), follows what other servers
 * deployed, and asks the remote for the branch's head, backing off while it fails.
 */
export class Watcher {
  private readonly opts: WatcherOptions;
  private timer: NodeJS.Timeout | undefined;
  private ticking: Promise<void> | undefined;
  private stopped = false;

  constructor(opts: WatcherOptions) {
    this.opts = opts;
  }

  start(): void {
    this.timer = setInterval(() => {
      // One tick at a time: a slow one (activating a deployment) is not overlapped by the next.
      this.ticking ??= this.pollDue().finally(() => (this.ticking = undefined));
    }, this.opts.tickMs ?? 1000);
  }

  /** Stops polling; resolves once the tick under way is over. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.ticking?.catch(() => undefined);
  }

  /**
   * The branch's commit, fetched into the cache. A poll first asks the remote for the one ref
   * (ls-remote fetches nothing) and fetches only when it moved. The outcome sets the next poll.
   */
  async check(app: AppRecord, cause: SyncCause): Promise<{ commit: string } | { error: string }> {
    const { cache, gitEnv } = this.opts;
    let commit: string;
    try {
      // Checked at every sync too: an application stored before the roots existed, or a link changed since.
      if (isLocalRepo(app.repoUrl)) checkLocalRoot(app.repoUrl, this.opts.localRepoRoots);
      commit = cause === 'poll' ? await remoteHead(sourceOf(app), app.branch, gitEnv) : await cache.fetch(sourceOf(app), app.branch);
      if (commit !== app.lastCommit && cause === 'poll') commit = await cache.fetch(sourceOf(app), app.branch);
    } catch (err) {
      const error = redactFor(app, err instanceof NestorError && err.code === 'NESTOR_REPO_OUTSIDE_ROOTS' ? err.describe() : errorMessage(err));
      await this.recordPoll(app, error);
      return { error };
    }
    await this.recordPoll(app, null);
    return { commit };
  }

  private async pollDue(): Promise<void> {
    if (this.stopped) return;
    const now = Date.now();
    const apps = await this.opts.store.apps().catch(() => undefined);
    if (!apps) return;
    for (const app of apps) {
      if (this.stopped) return;
      if (this.opts.busy(app)) continue;
      await this.opts.deployer.follow(app);
      if (!app.autoSync || app.nextPollAt > now) continue;
      // Servers sharing one database take turns: the one whose claim lands polls.
      if (!(await this.opts.store.claimPoll(app.namespace, app.name, app.nextPollAt, now + app.pollIntervalS * 1000).catch(() => false))) continue;
      this.opts.due(app);
    }
    if (this.stopped) return;
    await this.opts.deployer.unserveRemoved(apps);
  }

  private async recordPoll(app: AppRecord, error: string | null): Promise<void> {
    const failures = error ? app.failures + 1 : 0;
    const maxBackoff = this.opts.maxBackoffS ?? 600;
    // Back off on failures: interval × 2^failures, at most maxBackoff (and never less than the interval).
    const delayS = error ? backoffDelay(failures, { base: app.pollIntervalS, max: Math.max(app.pollIntervalS, maxBackoff), maxDoublings: 10 }) : app.pollIntervalS;
    await this.opts.store.setPollOutcome(app.namespace, app.name, { error, failures, nextPollAt: Date.now() + delayS * 1000 });
    if (error) this.opts.logger.warn({ app: `${app.namespace}/${app.name}`, failures, retryInS: delayS, error }, 'repository check failed; retrying with back-off');
  }
}
