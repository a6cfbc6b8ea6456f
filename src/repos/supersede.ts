import type { PipelineTrigger } from './repo-run.ts';

/** What deciding whether a newer pipeline cancels an older one reads of the older one. */
export interface OlderPipeline {
  trigger: Pick<PipelineTrigger, 'event' | 'ref'>;
  jobs: { status: string; interruptible: boolean }[];
}

const STARTED = ['running', 'succeeded', 'failed'];

/**
 * Why a newer pipeline of the same ref cancels an older one still running, or undefined when
 * it does not. Pushes and pull requests are superseded (a tag's or a schedule's pipeline
 * never is). With the repository's auto-cancel it always is, as Woodpecker and Drone do;
 * otherwise only where the file asks, as GitLab reads `interruptible`: when it has
 * interruptible jobs and every job that has started is one of them.
 */
export function supersedeReason(older: OlderPipeline, newer: Pick<PipelineTrigger, 'event' | 'ref'>, autoCancel: boolean): string | undefined {
  if (older.trigger.ref !== newer.ref) return undefined;
  if (!['push', 'pull_request'].includes(older.trigger.event) || older.trigger.event !== newer.event) return undefined;
  if (autoCancel) return 'the repository cancels older pipelines of a ref (auto-cancel)';
  if (!older.jobs.some((j) => j.interruptible)) return undefined;
  const started = older.jobs.filter((j) => STARTED.includes(j.status));
  if (started.every((j) => j.interruptible)) return 'its running jobs are interruptible';
  return undefined;
}
