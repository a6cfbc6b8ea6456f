import { NestorError } from '../errors.ts';

/**
 * A pipeline of jobs: which job may start when, as a pure walk over the jobs' `needs`.
 *
 * Real files of every format are DAGs of jobs (GitLab `needs` and stages, GitHub `needs`,
 * Drone pipelines' `depends_on`, Woodpecker workflows' `depends_on`). Each job runs in its own
 * engine; this walk only decides order and what is skipped, so it knows nothing of engines
 * and is tested without one.
 */

/** One edge: the job that must finish first, and whether its absence is fine (GitLab `optional`). */
export interface JobNeed {
  job: string;
  /** A need on a job that is not in this pipeline (left out by its rules) is dropped instead of refused. */
  optional?: boolean;
}

/** When a job runs, given how the jobs it needs ended (GitLab's `when`, Drone's `trigger.status`). */
export type RunWhen = 'on_success' | 'on_failure' | 'always';

export interface GraphJob {
  name: string;
  needs: JobNeed[];
  when?: RunWhen;
}

export type GraphStatus = 'success' | 'failure' | 'cancelled' | 'skipped';

export interface GraphOutcome {
  status: GraphStatus;
  /** Failed but allowed to (`allow_failure`, `failure: ignore`): counts as success for what needs it. */
  allowedFailure?: boolean;
}

export interface GraphRunOptions<R extends GraphOutcome> {
  /** Jobs running at once. */
  parallel: number;
  signal?: AbortSignal;
  /** The result recorded for a job that does not run, and why. */
  skipped: (job: string, why: string) => R;
  /** The result recorded for a job whose run threw (it did run, and failed); by default a skipped result marked failure. */
  failed?: (job: string, why: string) => R;
}

export class JobGraphError extends NestorError {
  constructor(detail: string) {
    super('NESTOR_JOB_GRAPH_INVALID', detail, 'Fix the `needs` (or `depends_on`) of the jobs named: each must name a job of the same pipeline, with no cycle.');
  }
}

/** Checks the graph (unknown needs, cycles) and answers the jobs' needs with optional ones to absent jobs dropped. */
export function checkJobGraph(jobs: GraphJob[]): Map<string, string[]> {
  const names = new Set(jobs.map((j) => j.name));
  if (names.size !== jobs.length) {
    const seen = new Set<string>();
    const twice = jobs.find((j) => (seen.has(j.name) ? true : (seen.add(j.name), false)))!;
    throw new JobGraphError(`Two jobs are named ${twice.name}`);
  }
  const needs = new Map<string, string[]>();
  const problems: string[] = [];
  for (const job of jobs) {
    const kept: string[] = [];
    for (const need of job.needs) {
      if (names.has(need.job)) kept.push(need.job);
      else if (!need.optional) problems.push(`job ${job.name} needs ${need.job}, which is not in the pipeline`);
    }
    needs.set(job.name, kept);
  }
  // Depth-first search; the path is reported when it closes on itself.
  const state = new Map<string, 'open' | 'done'>();
  const visit = (name: string, path: string[]): void => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'open') {
      problems.push(`the jobs' needs go round in a cycle: ${[...path.slice(path.indexOf(name)), name].join(' → ')}`);
      return;
    }
    state.set(name, 'open');
    for (const next of needs.get(name) ?? []) visit(next, [...path, name]);
    state.set(name, 'done');
  };
  for (const job of jobs) visit(job.name, []);
  if (problems.length) throw new JobGraphError(problems.join('; '));
  return needs;
}

/** Why a job does not run, from how its needs ended; undefined: it runs. */
function skipReason(job: GraphJob, needs: string[], results: Map<string, GraphOutcome>): string | undefined {
  return whyNotRun(job.when, needs.map((n) => [n, results.get(n)!]));
}

/**
 * Why a job whose needs have all ended does not run, given how each ended and its `when`;
 * undefined: it runs. A failure allowed (`allow_failure`) counts as success; a need skipped
 * or cancelled counts as failed. The same rule for `nestor run` and the server's queue.
 */
export function whyNotRun(when: RunWhen | undefined, needs: [string, GraphOutcome][]): string | undefined {
  const failed = needs.filter(([, r]) => (r.status === 'failure' && !r.allowedFailure) || r.status === 'cancelled' || r.status === 'skipped');
  const mode = when ?? 'on_success';
  if (mode === 'always') return undefined;
  if (mode === 'on_failure') {
    return failed.length || needs.length === 0 ? undefined : `it runs on failure only, and ${needs.map(([n]) => n).join(', ')} succeeded`;
  }
  if (!failed.length) return undefined;
  const [first, outcome] = failed[0]!;
  return `it needs ${first}, which ${outcome.status === 'failure' ? 'failed' : `was ${outcome.status}`}`;
}

/**
 * Runs every job once all it needs have ended, `parallel` at a time, in the order of the file
 * among those ready. A job whose needs failed is skipped (unless its `when` says otherwise);
 * after a cancel, jobs not yet started are recorded as cancelled. Answers each job's result.
 */
export async function runJobGraph<J extends GraphJob, R extends GraphOutcome>(
  jobs: J[],
  run: (job: J) => Promise<R>,
  opts: GraphRunOptions<R>,
): Promise<Map<string, R>> {
  const needs = checkJobGraph(jobs);
  const results = new Map<string, R>();
  const started = new Set<string>();
  const running = new Map<string, Promise<void>>();
  const limit = Math.max(1, opts.parallel);

  for (;;) {
    // Start what is ready, in file order, up to the limit; record what will never run.
    let progressed = true;
    while (progressed) {
      progressed = false;
      for (const job of jobs) {
        if (started.has(job.name)) continue;
        const mine = needs.get(job.name)!;
        if (!mine.every((n) => results.has(n))) continue;
        if (opts.signal?.aborted) {
          started.add(job.name);
          results.set(job.name, { ...opts.skipped(job.name, 'the pipeline was cancelled'), status: 'cancelled' });
          progressed = true;
          continue;
        }
        const why = skipReason(job, mine, results);
        if (why !== undefined) {
          started.add(job.name);
          results.set(job.name, opts.skipped(job.name, why));
          progressed = true;
          continue;
        }
        if (running.size >= limit) continue;
        started.add(job.name);
        running.set(
          job.name,
          run(job).then(
            (r) => void results.set(job.name, r),
            (err: unknown) => {
              const why = `it could not run: ${String(err)}`;
              results.set(job.name, opts.failed ? opts.failed(job.name, why) : { ...opts.skipped(job.name, why), status: 'failure' });
            },
          ).finally(() => running.delete(job.name)),
        );
      }
    }
    if (!running.size) break;
    await Promise.race(running.values());
  }
  return results;
}
