import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Backend } from '../backend/backend.ts';
import { LocalArtifactStore, type ArtifactStore } from '../artifacts/artifact-store.ts';
import { ArtifactHandOver } from '../artifacts/hand-over.ts';
import { planGraph } from '../pipeline/plan-graph.ts';
import type { JobPlan } from '../pipeline/plan.ts';
import type { JobResult } from '../scheduler/results.ts';
import { runJobGraph } from '../scheduler/job-graph.ts';
import { runJob, type ScheduleOptions } from '../scheduler/scheduler.ts';
import type { NeededJob } from '../pipeline/github/step-runtime.ts';
import { namespaceOf, neededJob } from '../pipeline/github/called-workflow.ts';
import { scheduleOptions, type ExecuteOptions } from './execute-job.ts';
import { sourceFiles } from './source-archive.ts';

export interface RunPlansOptions extends ExecuteOptions {
  /** Where the jobs run: the Docker backend, a nested engine for each job. */
  backend: Backend;
  /** Jobs (matrix entries) run at once. */
  parallel?: number;
  /**
   * Where jobs leave artifacts for the jobs after them. Absent: a store in a temporary
   * directory, removed once the run ends.
   */
  artifacts?: { store: ArtifactStore; run: string };
  /**
   * Jobs of the same run that ran elsewhere, with how they ended: a server queues a pipeline job
   * by job, so a runner runs one job alone, and the jobs it needs ran on other runners. Their
   * plans say which GitHub job each result is of (`test (2)` is a combination of `test`), so
   * `needs.ID` reads them as it reads the jobs run here.
   */
  earlier?: EarlierJobs;
  /**
   * Compiles the file again with how the jobs a GitHub job needs ended (`needs`, by job id),
   * answering every plan it now has: a job whose matrix is an expression over their outputs
   * (`github.matrixFromNeeds`) is run as the combinations it gives. Absent: such a job fails,
   * saying its matrix could not be known.
   */
  expand?: (needs: Record<string, NeededJob>) => JobPlan[];
}

/** Jobs of a run that ended before this part of it: every plan of the run, and results of those that ran. */
export interface EarlierJobs {
  plans: JobPlan[];
  results: JobResult[];
}

/**
 * Runs a pipeline's jobs on the backend, each in its own engine, `parallel` at a time: each
 * once the jobs it waits for have ended (Drone's and Woodpecker's pipelines that depend on
 * others, GitLab's stages and `needs`), with the artifacts of the jobs it takes them from
 * unpacked into its workspace. A job whose needs failed is skipped and says why; one its file
 * leaves out of the run (every step decided not to run) is not started at all and stands in
 * nobody's way. Each job is torn down afterwards, whether it passed, failed or was cancelled.
 */
export async function runPlans(plans: JobPlan[], opts: RunPlansOptions): Promise<JobResult[]> {
  const { backend, parallel, artifacts, earlier, expand: _expand, ...execute } = opts;
  const schedule = scheduleOptions(execute);
  const wantsStore = plans.some((p) => p.artifacts) && plans.some((p) => p.artifactsFrom?.length);
  const temporary = wantsStore && !artifacts ? mkdtempSync(join(tmpdir(), 'nestor-artifacts-')) : undefined;
  // What the source brought, once, for GitLab's `artifacts: untracked` (what else the workspace holds).
  let brought: Promise<ReadonlySet<string>> | undefined;
  const sourceDir = execute.sourceDir;
  const listed = sourceDir ? () => (brought ??= sourceFiles(sourceDir).then((files) => new Set(files))) : undefined;
  const handOver = artifacts ? new ArtifactHandOver(artifacts.store, artifacts.run, listed) : temporary ? new ArtifactHandOver(new LocalArtifactStore(temporary), randomUUID(), listed) : undefined;
  try {
    const ended = new Map<string, JobResult>();
    // Every plan known so far: a matrix expanded from needs adds its combinations, which later jobs' needs read.
    const known = [...plans];
    const runOne = async (plan: JobPlan): Promise<JobResult> => {
      const withNeeds = plan.github ? { ...schedule, needs: neededJobs(plan, known, ended, earlier) } : schedule;
      const ran = await runJob(plan, backend, handOver ? withArtifacts(plan, withNeeds, handOver) : withNeeds);
      // A GitHub job with continue-on-error fails on its own: the run, and the jobs after it, go on.
      const result = ran.status === 'failure' && plan.github?.continueOnError ? { ...ran, allowedFailure: true } : ran;
      // GitHub's needs.ID.result of such a job is success, whatever it did.
      ended.set(plan.name, result.allowedFailure ? { ...result, status: 'success' } : result);
      return result;
    };
    const expanded = new Map<string, JobResult[]>();
    return await runGraphOfJobs(plans, opts, expanded, async (plan) => {
      if (!plan.github?.matrixFromNeeds) return runOne(plan);
      const parts = combinationsOf(plan, neededJobs(plan, known, ended, earlier), opts);
      if ('error' in parts) {
        opts.onEvent?.({ type: 'notice', job: plan.name, text: parts.error });
        return { name: plan.name, status: 'failure', error: parts.error, steps: [], durationMs: 0, engine: '' };
      }
      known.push(...parts);
      opts.onEvent?.({ type: 'notice', job: plan.name, text: `matrix from the outputs of ${plan.github.needs.join(', ')}: ${parts.map((p) => p.name).join(', ')}` });
      const results = await inTurns(parts, opts.parallel ?? 2, runOne);
      expanded.set(plan.name, results);
      return combined(plan.name, results);
    });
  } finally {
    if (temporary) rmSync(temporary, { recursive: true, force: true });
  }
}

/**
 * `needs.ID` of a GitHub job: how each job it needs ended, with its outputs; a matrix job's
 * combinations as one (failed if any failed, outputs of the last to set each), as on GitHub,
 * and a job that calls a reusable workflow as every job it called, with the called workflow's
 * outputs. The jobs are those run here (`plans`, ended ones in `ended`) and those of `earlier`,
 * in the file's order: a plan's `pipeline` is its GitHub job id (`CALLER / ID` in a called
 * workflow). A called job is also given its callers' needs, which their `if:` and `with:` read,
 * each keyed in its own workflow's namespace (github/called-workflow.ts).
 */
export function neededJobs(plan: JobPlan, plans: JobPlan[], ended: ReadonlyMap<string, JobResult>, earlier?: EarlierJobs): Record<string, NeededJob> {
  const elsewhere = new Map(earlier?.results.map((r) => [r.name, r]));
  const known = [...new Map([...(earlier?.plans ?? []), ...plans].map((p) => [p.name, p])).values()];
  const endedAs = (p: { name: string }) => ended.get(p.name) ?? elsewhere.get(p.name);
  const out: Record<string, NeededJob> = {};
  const ask = (namespace: string, ids: readonly string[]) => {
    for (const id of ids) out[namespace + id] ??= neededJob(namespace + id, known, endedAs);
  };
  if (plan.github) ask(namespaceOf(plan.github.call), plan.github.needs);
  for (let call = plan.github?.call; call; call = call.parent) ask(namespaceOf(call.parent), call.needs);
  return out;
}

function withArtifacts(plan: JobPlan, schedule: ScheduleOptions, handOver: ArtifactHandOver): ScheduleOptions {
  const notice = (text: string) => schedule.onEvent?.({ type: 'notice', job: plan.name, text });
  const source = handOver.workspaceOf(plan, schedule.source, notice);
  const { source: _ignored, ...rest } = schedule;
  return {
    ...rest,
    ...(source ? { source } : {}),
    ...(plan.artifacts ? { keep: (result, read) => handOver.keep(plan, result, read, notice) } : {}),
  };
}

/**
 * The combinations a job whose matrix is over its needs' outputs now has: those of the file
 * compiled again with how they ended, of the same job and the same values of the axes that were
 * known before (a server queued each of those as a job of its own).
 */
function combinationsOf(plan: JobPlan, needs: Record<string, NeededJob>, opts: RunPlansOptions): JobPlan[] | { error: string } {
  const what = `the matrix ${plan.github!.matrixFromNeeds}`;
  if (!opts.expand) return { error: `${what} is known only from the jobs it needs, and this run cannot compile the file again` };
  let all: JobPlan[];
  try {
    all = opts.expand(Object.fromEntries(Object.entries(needs).map(([id, n]) => [id, n])));
  } catch (err) {
    return { error: `${what} gave no matrix: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}` };
  }
  const parts = all.filter((p) => p.pipeline === plan.pipeline && p.github && Object.entries(plan.matrix).every(([k, v]) => p.matrix[k] === v));
  if (parts.some((p) => p.github?.matrixFromNeeds)) return { error: `${what} gave no matrix from the outputs of ${plan.github!.needs.join(', ')} (${JSON.stringify(Object.fromEntries(Object.entries(needs).map(([id, n]) => [id, n.outputs])))}): it must give an object of axes (or include:), as fromJSON of a JSON text does` };
  if (!parts.length) return { error: `${what} left no combination to run` };
  return parts.map(({ needs: _needs, after: _after, needsAt: _at, ...alone }) => alone);
}

/** Runs each of `items`, `parallel` at a time, answering their results in order. */
async function inTurns<T, R>(items: T[], parallel: number, run: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await run(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(parallel, items.length)) }, worker));
  return out;
}

/** A job run as several combinations, to the jobs after it: failed if one failed (and was not allowed to), as on GitHub. */
function combined(name: string, results: JobResult[]): JobResult {
  const failed = results.some((r) => r.status === 'failure' && !r.allowedFailure);
  const status = failed ? 'failure' : results.some((r) => r.status === 'cancelled') ? 'cancelled' : 'success';
  return { name, status, steps: [], durationMs: results.reduce((t, r) => t + r.durationMs, 0), engine: '' };
}

async function runGraphOfJobs(plans: JobPlan[], opts: RunPlansOptions, expanded: ReadonlyMap<string, JobResult[]>, run: (plan: JobPlan) => Promise<JobResult>): Promise<JobResult[]> {
  const planned = planGraph(plans);
  const byName = new Map(plans.map((p) => [p.name, p]));
  const graph = planned.filter((j) => j.leftOut === undefined).map((j) => ({ name: j.name, plan: byName.get(j.name)!, needs: j.needs.map((job) => ({ job })), when: j.runWhen }));
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
  // A job expanded from its needs reports each of its combinations.
  return planned.flatMap((j) => {
    if (j.leftOut === undefined) return expanded.get(j.name) ?? [results.get(j.name)!];
    const plan = byName.get(j.name)!;
    return { name: j.name, status: 'skipped', notRunBecause: j.leftOut, steps: plan.steps.map((s) => ({ name: s.name, status: 'skipped', durationMs: 0, reason: s.notRunBecause })), durationMs: 0, engine: '' } satisfies JobResult;
  });
}
