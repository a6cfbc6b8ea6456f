import type { Logger } from 'pino';
import { errorMessage } from '../errors.ts';
import { nextRun, type CronStore } from './cron-store.ts';
import type { PipelineTrigger } from './repo-run.ts';
import type { RepoRecord, RepoStore } from './repo-store.ts';

export interface CronSchedulerOptions {
  crons: CronStore;
  repos: RepoStore;
  start: (repo: RepoRecord, trigger: PipelineTrigger) => Promise<unknown>;
  log: Logger;
  /** The clock schedules are read from (tests drive their own). */
  now?: () => number;
}

/** Longest sleep between looks at the store: schedules another server adds are seen this soon. */
const MAX_SLEEP_MS = 60_000;

/**
 * Runs repositories' cron schedules: one timer for the earliest run due, each run claimed in
 * the store (servers sharing it run it once), then the schedule's next time computed from now:
 * a server that was down runs a missed schedule once, not once per missed time.
 */
export class CronScheduler {
  private readonly opts: CronSchedulerOptions;
  private readonly now: () => number;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;

  constructor(opts: CronSchedulerOptions) {
    this.opts = opts;
    this.now = opts.now ?? Date.now;
  }

  start(): void {
    this.nudge();
  }

  /** Looks at the schedules again now (one was added, or the test's clock moved). */
  nudge(): Promise<void> {
    if (this.stopped) return Promise.resolve();
    clearTimeout(this.timer);
    this.running ??= this.runDue()
      .catch((err: unknown) => this.opts.log.warn({ err: errorMessage(err) }, 'running cron schedules failed; trying again shortly'))
      .finally(() => {
        this.running = undefined;
        void this.schedule();
      });
    return this.running;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private async runDue(): Promise<void> {
    const now = this.now();
    for (const c of await this.opts.crons.due(now, 200)) {
      if (this.stopped) return;
      let next: number;
      try {
        next = nextRun(c.expr, now);
      } catch {
        next = now + 86_400_000; // a schedule that no longer parses waits a day, and says so below
      }
      if (!(await this.opts.crons.claim(c, next, now))) continue;
      const repo = await this.opts.repos.get(c.repo);
      if (!repo) {
        await this.opts.crons.removeRepo(c.repo);
        continue;
      }
      const trigger: PipelineTrigger = { event: 'cron', ref: `refs/heads/${c.branch}`, branch: c.branch, commit: '', message: '', author: '', cause: 'cron', cron: c.name };
      await this.opts.start(repo, trigger).catch((err: unknown) => this.opts.log.warn({ repo: c.repo, cron: c.name, err: errorMessage(err) }, 'a cron schedule could not start its pipeline'));
    }
  }

  private async schedule(): Promise<void> {
    if (this.stopped) return;
    const next = await this.opts.crons.nextDueAt().catch(() => undefined);
    if (this.stopped) return;
    const wait = next === undefined ? MAX_SLEEP_MS : Math.min(MAX_SLEEP_MS, Math.max(50, next - this.now()));
    this.timer = setTimeout(() => void this.nudge(), wait);
    this.timer.unref();
  }
}
