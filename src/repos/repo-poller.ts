import type { Logger } from 'pino';
import { backoffDelay } from '../backoff.ts';
import { errorMessage } from '../errors.ts';
import { remoteRefs } from '../gitops/git.ts';
import { isLocalRepo } from '../gitops/repo-url.ts';
import { redactUrls } from '../secrets/redact.ts';
import { localRefs } from './local-refs.ts';
import type { PipelineTrigger } from './repo-run.ts';
import type { PollState, RepoRecord, RepoStore } from './repo-store.ts';

export interface RepoPollerOptions {
  repos: RepoStore;
  /** Starts the pipeline of a new or moved ref (unless one was made for that commit already, by a webhook). */
  start: (repo: RepoRecord, trigger: PipelineTrigger) => Promise<unknown>;
  gitEnv: NodeJS.ProcessEnv;
  log: Logger;
  now?: () => number;
  random?: () => number;
  /** Polls at once (default 8). */
  parallel?: number;
  /** Longest back-off of a failing repository, in seconds (default 600). */
  maxBackoffS?: number;
}

/** Each poll is moved by up to this share of the interval, so that repositories added together drift apart. */
const JITTER = 0.1;
/** Longest sleep between looks at the store: repositories another server adds are seen this soon. */
const MAX_SLEEP_MS = 30_000;
const BATCH = 500;

/**
 * Polls the refs of repositories that have no webhook, each at its own interval: one timer set
 * for the earliest poll that is due (no ticking while none is), a jittered schedule so that a
 * thousand repositories do not poll at once, claims in the store so that servers sharing it
 * take turns, and back-off for a repository that fails. Local repositories are read from their
 * files (no process); others with `git ls-remote` (nothing fetched). A new or moved branch is a
 * push, a new tag a tag push. The first poll only records what is there.
 */
export class RepoPoller {
  private readonly opts: RepoPollerOptions;
  private readonly now: () => number;
  private readonly random: () => number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(opts: RepoPollerOptions) {
    this.opts = opts;
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
  }

  start(): void {
    this.nudge();
  }

  /** Looks at the store again now: a repository was added, or its interval changed. */
  nudge(): void {
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.running ??= this.pollDue()
      .catch((err: unknown) => this.opts.log.warn({ err: errorMessage(err) }, 'polling repositories failed; trying again shortly'))
      .finally(() => {
        this.running = undefined;
        void this.schedule();
      });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  /** Polls every repository due now, `parallel` at a time. */
  async pollDue(): Promise<void> {
    for (;;) {
      const due = await this.opts.repos.duePolls(this.now(), BATCH);
      if (!due.length || this.stopped) return;
      const queue = [...due];
      await Promise.all(Array.from({ length: Math.min(this.opts.parallel ?? 8, queue.length) }, async () => {
        for (let repo = queue.shift(); repo && !this.stopped; repo = queue.shift()) await this.pollOne(repo);
      }));
      if (due.length < BATCH) return;
    }
  }

  private async schedule(): Promise<void> {
    if (this.stopped) return;
    const next = await this.opts.repos.nextPollAt().catch(() => undefined);
    if (this.stopped) return;
    const wait = next === undefined ? MAX_SLEEP_MS : Math.min(MAX_SLEEP_MS, Math.max(0, next - this.now()));
    this.timer = setTimeout(() => this.nudge(), Math.max(wait, 50));
    this.timer.unref();
  }

  private async pollOne(repo: RepoRecord & PollState): Promise<void> {
    const interval = (repo.pollIntervalS ?? 60) * 1000;
    // The first poll of a repository lands anywhere in its interval; later ones a jittered interval on.
    const delay = repo.nextPollAt === null ? this.random() * interval : interval * (1 - JITTER + 2 * JITTER * this.random());
    const next = Math.round(this.now() + delay);
    if (!(await this.opts.repos.claimPoll(repo.name, repo.nextPollAt, next))) return;
    let refs: Record<string, string>;
    try {
      refs = isLocalRepo(repo.url) ? localRefs(repo.url) : await remoteRefs({ url: repo.url, credential: repo.credential, sshKey: repo.sshKey }, this.opts.gitEnv);
    } catch (err) {
      const failures = repo.pollFailures + 1;
      const backoff = backoffDelay(failures, { base: interval, max: Math.max(interval, (this.opts.maxBackoffS ?? 600) * 1000), maxDoublings: 10 });
      await this.opts.repos.claimPoll(repo.name, next, Math.round(this.now() + backoff)).catch(() => false);
      const error = redactUrls(errorMessage(err));
      await this.opts.repos.setPolled(repo.name, { error, failures });
      this.opts.log.warn({ repo: repo.name, failures, retryInS: Math.round(backoff / 1000), error }, 'polling a repository failed; retrying with back-off');
      return;
    }
    if (!repo.polledRefs) {
      await this.opts.repos.setPolled(repo.name, { refs, error: null, failures: 0 });
      return;
    }
    const seen = { ...repo.polledRefs };
    let changed = repo.pollFailures > 0 || Object.keys(seen).some((r) => !(r in refs));
    for (const [ref, sha] of Object.entries(refs)) {
      if (seen[ref] === sha) continue;
      const trigger = triggerOf(ref, sha, seen[ref]);
      try {
        if (trigger) await this.opts.start(repo, trigger);
        seen[ref] = sha;
        changed = true;
      } catch (err) {
        // Left as it was seen: the next poll tries this ref again.
        this.opts.log.warn({ repo: repo.name, ref, err: errorMessage(err) }, 'could not make the pipeline of a polled push');
      }
    }
    for (const ref of Object.keys(seen)) if (!(ref in refs)) delete seen[ref];
    if (changed) await this.opts.repos.setPolled(repo.name, { refs: seen, error: null, failures: 0 });
  }
}

/** What a ref that moved means: a push to a branch, or a tag pushed. A moved tag runs again, as a new tag push. */
function triggerOf(ref: string, sha: string, before: string | undefined): PipelineTrigger | undefined {
  if (ref.startsWith('refs/heads/')) return { event: 'push', ref, branch: ref.slice('refs/heads/'.length), commit: sha, ...(before ? { before } : {}), message: '', author: '', cause: 'poll' };
  if (ref.startsWith('refs/tags/')) return { event: 'tag', ref, tag: ref.slice('refs/tags/'.length), commit: sha, message: '', author: '', cause: 'poll' };
  return undefined;
}
