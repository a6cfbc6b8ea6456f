import { DockerBackend } from '../backend/docker/docker-backend.ts';
import type { NestedEngine } from '../engine/nested/nested-engine.ts';
import type { JobPlan } from '../pipeline/plan.ts';
import type { JobResult } from '../scheduler/results.ts';
import { runJob, type ScheduleOptions } from '../scheduler/scheduler.ts';
import { sourceContent } from './source-archive.ts';
import { hashFilesIn } from '../pipeline/github/hash-files.ts';

export interface ExecuteOptions extends Omit<ScheduleOptions, 'source'> {
  /** Copied into the workspace before the first step. */
  sourceDir?: string;
}

/** The scheduler's options, with the source directory as the workspace's content. */
export function scheduleOptions(opts: ExecuteOptions): ScheduleOptions {
  const { sourceDir, ...rest } = opts;
  return { ...rest, ...(sourceDir ? { source: () => sourceContent(sourceDir), hashFiles: hashFilesIn(sourceDir) } : {}) };
}

/**
 * Runs one job's plan on an engine the caller holds (and keeps): the scheduler on the Docker
 * backend with that one engine. Everything made for the job is removed at the end, whatever
 * the outcome; the engine itself stays the caller's.
 */
export function executeJob(plan: JobPlan, engine: NestedEngine, opts: ExecuteOptions): Promise<JobResult> {
  return runJob(plan, new DockerBackend({ host: engine.host, engine }), scheduleOptions(opts));
}
