import type { TriggerEvent } from './webhook-trigger.ts';

/**
 * What a job of a repository's pipeline carries, for the runner: where its source is (the
 * repository and the pipeline's commit, fetched into the runner's own mirror) and the facts the
 * files were compiled with on the server, so the runner compiles them to the same jobs.
 * No credential is in it: it is stored with the job.
 */
export interface RepoRun {
  repo: string;
  /** The clone URL, without credentials. */
  url: string;
  commit: string;
  /** The ref fetched for the commit (refs/heads/main, refs/tags/v1, refs/pull/7/head). */
  ref: string;
  /** The pipeline file or folder read (repository-relative); absent: the conventional ones. */
  config?: string;
  /** The repository's timeout: how long one of its jobs may run, whatever its file says. */
  timeoutS?: number;
  /** How long a failed step is kept for a shell (`nestor jobs shell`): a run or restart asked so. */
  holdOnFailureS?: number;
  facts: RepoRunFacts;
}

/** The RunFacts of a repository's run, as JSON. */
export interface RepoRunFacts {
  event: TriggerEvent | 'cron' | 'manual';
  ref: string;
  commit: string;
  branch?: string;
  tag?: string;
  defaultBranch: string;
  project: string;
  /** Unknown (absent): every path filter matches, as for a new repository's first push. */
  changedPaths?: string[];
  trusted: boolean;
  /**
   * Names of the secrets the pipeline's trigger is given (never values): a step that uses
   * another is a problem of the pipeline, said before any job runs.
   */
  secrets?: string[];
  /** Manual runs' variables (and workflow_dispatch inputs). */
  env?: Record<string, string>;
  facts: Record<string, string>;
}

/** What started a pipeline, kept on its row and shown with it. */
export interface PipelineTrigger {
  event: RepoRunFacts['event'];
  ref: string;
  branch?: string;
  tag?: string;
  commit: string;
  before?: string;
  message: string;
  author: string;
  /** How Nestor heard of it. */
  cause: 'webhook' | 'poll' | 'cron' | 'manual' | 'restart';
  pullRequest?: { number: number; title: string; sourceBranch: string; targetBranch: string; fromFork: boolean };
  /** The schedule that started it (event cron), by name. */
  cron?: string;
  /** A restart: the number of the pipeline it runs again (that one is kept as it ended). */
  restartOf?: number;
  /** A manual run's variables (a restart keeps them). */
  variables?: Record<string, string>;
  /** A manual run or restart asked its failed steps to be kept this long for a shell. */
  holdOnFailureS?: number;
}
