import type { Backend } from '../backend/backend.ts';
import type { JobPlan } from '../pipeline/plan.ts';
import type { JobResult } from '../scheduler/results.ts';
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
