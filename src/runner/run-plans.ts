import type { Backend } from '../backend/backend.ts';
import type { JobPlan } from '../pipeline/plan.ts';
import type { JobResult } from '../scheduler/results.ts';
import { runJobGraph } from '../scheduler/job-graph.ts';
import { runJob } from '../scheduler/scheduler.ts';
import { scheduleOptions, type ExecuteOptions } from './execute-job.ts';

export interface RunPlansOptions extends ExecuteOptions {
  /** Where the jobs run: the Docker backend, a nested engine for each job. */
  backend: Backend;
  /** Jobs (matrix entries) run at once. */
  parallel?: number;
}

/**
 * Runs each job on the backend (its own engine), `parallel` at a time; each job is torn down
 * afterwards, whether it passed, failed or was cancelled.
 */
export async function runPlans(plans: JobPlan[], opts: RunPlansOptions): Promise<JobResult[]> {
  const { backend, parallel, ...execute } = opts;
  const schedule = scheduleOptions(execute);
  if (plans.some((p) => p.needs?.length)) return runPipelinesOfJobs(plans, opts, (plan) => runJob(plan, backend, schedule));
  const results: JobResult[] = new Array(plans.length);
  let next = 0;
  const worker = async () => {
    while (next < plans.length) {
      const index = next++;
      results[index] = await runJob(plans[index]!, backend, schedule);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(parallel ?? 2, plans.length)) }, worker));
  return results;
}

/**
 * Pipelines that wait for others (Drone's `depends_on`, Woodpecker's workflows): each job
 * starts once every job of the pipelines it needs has ended, in its own engine, `parallel` at
 * a time; one whose needs failed is skipped, and says why.
 */
async function runPipelinesOfJobs(plans: JobPlan[], opts: RunPlansOptions, run: (plan: JobPlan) => Promise<JobResult>): Promise<JobResult[]> {
  const jobsOf = new Map<string, string[]>();
  for (const p of plans) jobsOf.set(p.pipeline, [...(jobsOf.get(p.pipeline) ?? []), p.name]);
  const graph = plans.map((plan) => ({
    name: plan.name,
    plan,
    needs: (plan.needs ?? []).flatMap((pipeline) => (jobsOf.get(pipeline) ?? []).map((job) => ({ job }))),
    ...(plan.runWhen ? { when: plan.runWhen } : {}),
  }));
  const results = await runJobGraph<(typeof graph)[number], JobResult>(graph, (job) => run(job.plan), {
    parallel: opts.parallel ?? 2,
    ...(opts.signal ? { signal: opts.signal } : {}),
    skipped: (name, why) => {
      opts.onEvent?.({ type: 'notice', job: name, text: `not run: ${why}` });
      return { name, status: 'skipped', notRunBecause: why, steps: [], durationMs: 0, engine: '' };
    },
    // A job whose run threw did run: it failed, and is not announced as not run.
    failed: (name, why) => ({ name, status: 'failure', error: why, steps: [], durationMs: 0, engine: '' }),
  });
  return plans.map((p) => results.get(p.name)!);
}
