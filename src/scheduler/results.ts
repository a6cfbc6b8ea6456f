import type { StreamName } from '../backend/backend.ts';

/** What the scheduler reports of a job: its steps' outcomes, its events and its log lines. */

export type StepStatus = 'pending' | 'running' | 'success' | 'failure' | 'ignored' | 'skipped' | 'timeout' | 'cancelled';

export interface StepResult {
  name: string;
  status: StepStatus;
  exitCode?: number;
  durationMs: number;
  reason?: string;
}

export interface JobResult {
  name: string;
  /** `skipped`: not run, because of how the pipelines it waits for ended (`notRunBecause`). */
  status: 'success' | 'failure' | 'cancelled' | 'skipped';
  notRunBecause?: string;
  steps: StepResult[];
  durationMs: number;
  /** The job engine's name; empty when the job ended before it had one. */
  engine: string;
  error?: string;
  /** A GitHub job's `outputs`, for the jobs that need it. */
  outputs?: Record<string, string>;
  /** A GitHub job's step summaries ($GITHUB_STEP_SUMMARY), Markdown, masked. */
  summary?: string;
  /** Failed, and allowed to (a GitHub job's `continue-on-error`): the run does not fail for it. */
  allowedFailure?: boolean;
}

export type JobEvent =
  | { type: 'notice'; job: string; text: string }
  | { type: 'step'; job: string; step: StepResult; startedAt?: number };

export interface LogLine {
  job: string;
  /** The step or service the line came from (services as `service:NAME`). */
  source: string;
  stream: StreamName;
  /** Milliseconds since the epoch when Nestor received the line. */
  time: number;
  text: string;
}

/** The outcomes that fail a job. */
export const FAILED: StepStatus[] = ['failure', 'timeout'];
