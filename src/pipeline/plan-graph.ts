import type { ConcurrencyGroup } from './model.ts';
import type { JobPlan } from './plan.ts';

/** One job of a pipeline run as the graph of jobs sees it: what it waits for, and when it runs. */
export interface PlannedJob {
  name: string;
  /** Jobs of the run it waits for, by name (pipelines it depends on stand for all their jobs). */
  needs: string[];
  runWhen: NonNullable<JobPlan['runWhen']>;
  /** Runner labels the job asks for: a server gives it only to a runner with all of them. */
  labels?: string[];
  /** Why the file leaves the job out of this run (every step decided not to run): it does not start, and waits for nobody. */
  leftOut?: string;
  /** The group of runs the job's run is in: a server runs one run of a group at a time. */
  concurrency?: ConcurrencyGroup;
  /** The cron lines of its workflow's `on.schedule` (GitHub), for the server to run on the default branch. */
  schedules?: string[];
  /** A newer pipeline of the same ref may cancel it while it runs (GitLab's `interruptible`). */
  interruptible?: boolean;
  /** Runs alone among the jobs of this group, across runs (GitLab's `resource_group`). */
  resourceGroup?: string;
  /** The workflow (or Drone/Woodpecker pipeline) it is of: a commit status per workflow. */
  workflow: string;
  /** Left out until someone starts it (GitLab's `when: manual`). */
  manual?: boolean;
  /** The deploy targets its steps name: the server gives those it allows with the lease. */
  deployTargets?: string[];
}

/**
 * The graph of a run's jobs, from their plans: Drone's and Woodpecker's pipelines that depend
 * on others (each of their jobs), GitLab's stages and `needs`. A job its file leaves out of the
 * run is no one's need: the jobs after it run as they would without it, as on GitLab. Read
 * by `nestor run` (runner/run-plans.ts) and by the server, which queues each job on its own.
 */
export function planGraph(plans: JobPlan[]): PlannedJob[] {
  const jobsOf = new Map<string, string[]>();
  for (const p of plans) jobsOf.set(p.pipeline, [...(jobsOf.get(p.pipeline) ?? []), p.name]);
  const leftOut = new Map(plans.flatMap((p) => (p.steps.length > 0 && p.steps.every((s) => s.notRunBecause) ? [[p.name, p.steps[0]!.notRunBecause!] as const] : [])));
  return plans.map((plan) => {
    const needs = [
      ...(plan.needs ?? []).flatMap((pipeline) => jobsOf.get(pipeline) ?? []),
      ...(plan.after ?? []).map((a) => a.job),
    ].filter((n, i, all) => !leftOut.has(n) && all.indexOf(n) === i);
    const why = leftOut.get(plan.name);
    return { name: plan.name, workflow: plan.pipeline, needs, runWhen: plan.runWhen ?? 'on_success', ...(plan.runnerLabels?.length ? { labels: plan.runnerLabels } : {}), ...(why !== undefined ? { leftOut: why } : {}), ...(plan.concurrency ? { concurrency: plan.concurrency } : {}), ...(plan.github?.triggers?.schedules.length ? { schedules: plan.github.triggers.schedules } : {}), ...(plan.steps.some((s) => s.recorded?.interruptible) ? { interruptible: true } : {}), ...resourceGroupOf(plan), ...(plan.steps.some((s) => s.recorded?.manual) ? { manual: true } : {}), ...(plan.deployTargets?.length ? { deployTargets: plan.deployTargets } : {}) };
  });
}

function resourceGroupOf(plan: JobPlan): { resourceGroup?: string } {
  const group = plan.steps.find((s) => s.recorded?.resourceGroup)?.recorded?.resourceGroup;
  return group ? { resourceGroup: group } : {};
}
