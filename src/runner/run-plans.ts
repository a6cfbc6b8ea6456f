import { errorMessage } from '../errors.ts';
import type { EngineClient } from '../engine/engine-client.ts';
import type { ImageSupply } from '../engine/images/supply.ts';
import type { IsolationMode } from '../engine/nested/isolation.ts';
import type { EngineImages } from '../engine/images/local-images.ts';
import type { NestedEngine } from '../engine/nested/nested-engine.ts';
import { provision } from '../engine/nested/provision.ts';
import type { JobPlan } from '../pipeline/plan.ts';
import { isDockerImage, standInFor } from './job-images.ts';
import { executeJob, type ExecuteOptions, type JobResult } from './execute-job.ts';
import { runJobGraph } from './job-graph.ts';

export interface RunPlansOptions extends Omit<ExecuteOptions, 'signal'> {
  host: EngineClient;
  supply?: ImageSupply;
  isolation?: IsolationMode;
  /** Images nested engines start from instead of Nestor's own (NESTOR_ROOTLESS_IMAGE, NESTOR_DIND_IMAGE). */
  engineImages?: EngineImages;
  signal?: AbortSignal;
  /** Jobs (matrix entries) run at once. */
  parallel?: number;
  /**
   * Takes the engine's removal instead of waiting for it, so a runner can report the result
   * first; the caller must await what it was given before it exits.
   */
  deferDestroy?: (removal: Promise<void>) => void;
  /** Where engines come from; by default one is provisioned per job with its images shared. */
  acquire?: (plan: JobPlan) => Promise<NestedEngine>;
}

/**
 * Runs each job in its own nested engine, `parallel` at a time, and always destroys the engine
 * afterwards, whether the job passed, failed or was cancelled.
 */
export async function runPlans(plans: JobPlan[], opts: RunPlansOptions): Promise<JobResult[]> {
  if (plans.some((p) => p.needs?.length)) return runPipelinesOfJobs(plans, opts);
  const results: JobResult[] = new Array(plans.length);
  let next = 0;
  const worker = async () => {
    while (next < plans.length) {
      const index = next++;
      results[index] = await runOne(plans[index]!, opts);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.parallel ?? 2, plans.length)) }, worker));
  return results;
}

/**
 * Pipelines that wait for others (Drone's `depends_on`, Woodpecker's workflows): each job
 * starts once every job of the pipelines it needs has ended, in its own engine, `parallel` at
 * a time; one whose needs failed is skipped, and says why.
 */
async function runPipelinesOfJobs(plans: JobPlan[], opts: RunPlansOptions): Promise<JobResult[]> {
  const jobsOf = new Map<string, string[]>();
  for (const p of plans) jobsOf.set(p.pipeline, [...(jobsOf.get(p.pipeline) ?? []), p.name]);
  const graph = plans.map((plan) => ({
    name: plan.name,
    plan,
    needs: (plan.needs ?? []).flatMap((pipeline) => (jobsOf.get(pipeline) ?? []).map((job) => ({ job }))),
    ...(plan.runWhen ? { when: plan.runWhen } : {}),
  }));
  const results = await runJobGraph<(typeof graph)[number], JobResult>(graph, (job) => runOne(job.plan, opts), {
    parallel: opts.parallel ?? 2,
    ...(opts.signal ? { signal: opts.signal } : {}),
    skipped: (name, why) => {
      opts.onEvent?.({ type: 'notice', job: name, text: `not run: ${why}` });
      return { name, status: 'skipped', notRunBecause: why, steps: [], durationMs: 0, engine: '' };
    },
  });
  return plans.map((p) => results.get(p.name)!);
}

async function runOne(plan: JobPlan, opts: RunPlansOptions): Promise<JobResult> {
  const started = performance.now();
  const notice = (text: string) => opts.onEvent?.({ type: 'notice', job: plan.name, text });
  if (opts.signal?.aborted) return { name: plan.name, status: 'cancelled', steps: [], durationMs: 0, engine: '' };
  let engine: NestedEngine;
  try {
    engine = opts.acquire ? await opts.acquire(plan) : await provision(engineOptions(plan, opts));
  } catch (err) {
    if (opts.signal?.aborted) return { name: plan.name, status: 'cancelled', steps: [], durationMs: performance.now() - started, engine: '' };
    return { name: plan.name, status: 'failure', steps: [], durationMs: performance.now() - started, engine: '', error: errorMessage(err) };
  }
  // Cancelled while the engine was starting: it goes at once, before any step.
  if (opts.signal?.aborted) {
    const removal = engine.destroy().catch(() => undefined);
    if (opts.deferDestroy) opts.deferDestroy(removal);
    else await removal;
    return { name: plan.name, status: 'cancelled', steps: [], durationMs: performance.now() - started, engine: engine.name };
  }
  // Cancelling removes the engine at once: whatever the job is waiting on fails fast, and every
  // container in it goes with it, well within the 5 s a user waits after Ctrl-C.
  const onAbort = () => void engine.destroy().catch(() => undefined);
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (const n of engine.notices) notice(n);
    notice(`engine ${engine.name} (${engine.isolation}) ready in ${Math.round(engine.readyMs)} ms${engine.sharedImages.length ? `, ${engine.sharedImages.length} image(s) shared from the host` : ''}`);
    const job = executeJob(plan, engine, { ...opts, ...(opts.signal ? { signal: opts.signal } : {}) });
    return await Promise.race([job, cancelled(plan, engine, opts.signal, started)]);
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    const removal = engine.destroy().catch((err: unknown) => notice(`could not remove engine ${engine.name}: ${errorMessage(err)}; run \`nestor engine cleanup\``));
    if (opts.deferDestroy) opts.deferDestroy(removal);
    else await removal;
  }
}

/**
 * Settles only after a cancel, once the engine is gone and the job has had a moment to record
 * its steps as cancelled; a job stuck on a connection to the removed engine cannot hold it up.
 */
function cancelled(plan: JobPlan, engine: NestedEngine, signal: AbortSignal | undefined, started: number): Promise<JobResult> {
  return new Promise((resolve) => {
    if (!signal) return;
    signal.addEventListener(
      'abort',
      () => {
        void engine
          .destroy()
          .catch(() => undefined)
          .then(() => setTimeout(() => resolve({ name: plan.name, status: 'cancelled', steps: [], durationMs: performance.now() - started, engine: engine.name }), 1000).unref());
      },
      { once: true },
    );
  });
}

function engineOptions(plan: JobPlan, opts: RunPlansOptions) {
  const hostPaths = [...new Set([...plan.steps, ...plan.services].flatMap((c) => c.mounts.flatMap((m) => (m.kind === 'host' ? [m.path] : []))))];
  return {
    host: opts.host,
    isolation: opts.isolation ?? 'auto',
    ...(opts.engineImages ? { engineImages: opts.engineImages } : {}),
    ...(opts.supply ? { daemon: opts.supply.daemonOptions() } : {}),
    // A local image stands in for docker:* images where those cannot be pulled; sharing it
    // (where layers can be shared) costs nothing and saves copying it when it is needed.
    images: [...plan.images, ...new Set(plan.images.filter(isDockerImage).map(standInFor))],
    ...(hostPaths.length ? { hostPaths } : {}),
    extraLabels: { 'dev.nestor.job-name': plan.name.replace(/[^\w.=-]+/g, '_').slice(0, 60) },
  };
}
