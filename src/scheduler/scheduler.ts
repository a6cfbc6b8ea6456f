import type { Backend, JobHandle, PreparedStep, RunningContainer } from '../backend/backend.ts';
import { errorMessage, NestorError } from '../errors.ts';
import type { JobPlan } from '../pipeline/plan.ts';
import { jobSpecOf } from './job-spec.ts';
import { withSecretVariables } from './job-variables.ts';
import { pullAuthOf, type PullAuth } from './pull-auth.ts';
import { FAILED, type JobEvent, type JobResult, type LogLine, type StepResult } from './results.ts';
import { SecretMasker } from './secret-masker.ts';
import { serviceSink } from './sinks.ts';
import { runGraph } from './step-graph.ts';
import type { LiveSteps } from './live-steps.ts';
import { GithubJobRun } from './github-steps.ts';
import { jobNotRunBecause, type NeededJob } from '../pipeline/github/step-runtime.ts';

export interface ScheduleOptions {
  secrets?: Record<string, string>;
  /** Secrets every container has as variables of their own names (the job token's, src/scheduler/job-variables.ts). */
  secretVariables?: string[];
  /** Variables every container has where the file sets none of that name (where the job's server is). */
  variables?: Record<string, string>;
  signal?: AbortSignal;
  onLog: (line: LogLine) => void;
  /** A promise while the log consumer is full: containers' output then waits (back-pressure). */
  logsFull?: () => Promise<void> | undefined;
  onEvent?: (event: JobEvent) => void;
  /** How long each service has to become ready (default 60 s). */
  serviceTimeoutMs?: number;
  /** How the jobs a GitHub job needs ended, with their outputs, by job id (`needs.*`). */
  needs?: Record<string, NeededJob>;
  /** The source as one tar stream, unpacked into the workspace when the plan copies it. */
  source?: () => AsyncIterable<Uint8Array>;
  /** GitHub's hashFiles() over the source (its folder, where the runner has one). */
  hashFiles?: (patterns: string[]) => string;
  /**
   * Called once the job's steps have ended and before its teardown (not after a cancel), with
   * a reader of its workspace: for what the job leaves the jobs after it (its artifacts).
   * Must not throw.
   */
  keep?: (result: JobResult, readWorkspace: (paths: string[]) => Promise<AsyncIterable<Uint8Array>>) => Promise<void>;
  /**
   * Takes the job's teardown instead of waiting for it, so that a runner reports the result
   * first; the caller must await what it was given before it exits.
   */
  deferTeardown?: (teardown: Promise<void>) => void;
  /** Where started steps are listed for a shell (`nestor jobs shell`), and failed ones held for one. */
  live?: LiveSteps;
}

/**
 * A job that could not be set up: its result carries the error's message; what to do about it
 * (a NestorError's hint: the image's name to check, the credentials to give) goes to its log.
 */
function setupFailed(err: unknown, notice: (text: string) => void, result: () => JobResult): JobResult {
  if (err instanceof NestorError) notice(`→ ${err.hint}`);
  return result();
}

/** After a cancel, how long the job's own calls have to settle once its teardown is done. */
const CANCEL_GRACE_MS = 1000;

/**
 * Runs one job's plan on a backend: sets the job up, starts its services until ready, walks
 * its steps' graph, and tears it down whatever the outcome. A cancel tears the job down at
 * once: what it waits on settles, and the result does not wait for a backend that no longer
 * answers. Secrets are masked in every line here, above any backend.
 */
export async function runJob(planned: JobPlan, backend: Backend, opts: ScheduleOptions): Promise<JobResult> {
  const started = performance.now();
  const signal = opts.signal ?? new AbortController().signal;
  const secrets = opts.secrets ?? {};
  const plan = withSecretVariables(planned, secrets, opts.secretVariables ?? [], opts.variables ?? {});
  let pull: PullAuth = { auth: [], revealed: [], notices: [] };
  let pullError: unknown;
  try {
    pull = pullAuthOf(plan, secrets);
  } catch (err) {
    pullError = err;
  }
  const masker = new SecretMasker([...Object.values(secrets), ...pull.revealed]);
  const logs = { masker, onLog: opts.onLog, logsFull: opts.logsFull };
  // Notices and errors are masked too: an engine's message may quote what it was given.
  const notice = (text: string) => opts.onEvent?.({ type: 'notice', job: plan.name, text: masker.mask(text) });
  const results = new Map<string, StepResult>(plan.steps.map((s) => [s.name, { name: s.name, status: 'pending', durationMs: 0 }]));
  let engine = '';
  let githubRun: GithubJobRun | undefined;
  const finish = (status: JobResult['status'], error?: string, steps = [...results.values()].map((r) => ({ ...r }))): JobResult => ({
    name: plan.name,
    status,
    steps,
    durationMs: performance.now() - started,
    engine,
    ...(error ? { error: masker.mask(error) } : {}),
    ...(githubRun ? { outputs: githubRun.jobOutputs(), ...(githubRun.state.summaries.length ? { summary: githubRun.state.summaries.map((s) => masker.mask(s)).join('\n') } : {}) } : {}),
  });
  const skipPending = () => {
    for (const r of results.values()) if (r.status === 'pending') r.status = 'skipped';
  };

  if (signal.aborted) return finish('cancelled', undefined, []);
  // A GitHub job's if: is answered once the jobs it needs have ended, before anything is made.
  if (plan.github) {
    let why: string | undefined;
    try {
      why = jobNotRunBecause(plan.github, opts.needs ?? {}, secrets);
    } catch (err) {
      return finish('failure', `its if: cannot be evaluated: ${errorMessage(err)}`, []);
    }
    if (why !== undefined) return { ...finish('skipped', undefined, []), notRunBecause: why };
    githubRun = new GithubJobRun(plan, masker, secrets, opts.needs ?? {}, opts.hashFiles);
  }
  // A pull secret that is given but unusable fails the job before any engine starts.
  if (pullError !== undefined) return setupFailed(pullError, notice, () => finish('failure', errorMessage(pullError), []));
  const { spec, steps: specs } = jobSpecOf(plan);
  let job: JobHandle;
  try {
    job = await backend.setupJob(spec, {
      secrets,
      ...(pull.auth.length ? { registryAuth: pull.auth } : {}),
      signal,
      notice,
      engineReady: (e) => {
        engine = e.name;
        for (const n of plan.notices) notice(n.message);
        for (const n of pull.notices) notice(n);
      },
      // The source, and the artifacts handed down to the job (src/artifacts/hand-over.ts).
      ...((plan.copySource || plan.artifactsFrom?.length) && opts.source ? { workspace: opts.source } : {}),
    });
  } catch (err) {
    // Before the engine answered, no step was in reach; after it, each one was skipped.
    if (signal.aborted) return finish('cancelled', undefined, engine ? undefined : []);
    if (!engine) return setupFailed(err, notice, () => finish('failure', errorMessage(err), []));
    skipPending();
    return setupFailed(err, notice, () => finish('failure', errorMessage(err)));
  }
  engine = job.engine.name;

  let teardown: Promise<void> | undefined;
  const tearDown = (cancelled: boolean) => (teardown ??= backend.teardownJob(job, { cancelled }).catch((err: unknown) => notice(`could not tear the job down: ${errorMessage(err)}`)));
  const cancelled = Promise.withResolvers<JobResult>();
  const onAbort = () => {
    void tearDown(true).then(() => setTimeout(() => cancelled.resolve(finish('cancelled')), CANCEL_GRACE_MS).unref());
  };
  signal.addEventListener('abort', onAbort, { once: true });

  const background: RunningContainer[] = [];
  const prepared = new Map<string, PreparedStep>();
  const run = async (): Promise<JobResult> => {
    try {
      for (const svc of plan.services) {
        const sink = serviceSink(logs, plan.name, `service:${svc.name}`);
        background.push(await backend.startService(job, svc, { sink, signal, readyWithinMs: opts.serviceTimeoutMs ?? 60_000 }));
      }
      const report = (r: StepResult, startedAt?: number) => opts.onEvent?.({ type: 'step', job: plan.name, step: { ...r }, ...(startedAt ? { startedAt } : {}) });
      await runGraph({ backend, job, plan, specs, results, logs, signal, report, background, prepared, ...(githubRun ? { github: githubRun } : {}), ...(opts.live ? { live: opts.live } : {}) });
      const steps = [...results.values()];
      if (signal.aborted || steps.some((s) => s.status === 'cancelled')) return finish('cancelled');
      if (!steps.some((s) => FAILED.includes(s.status))) return finish('success');
      await explain();
      return finish('failure');
    } catch (err) {
      if (signal.aborted) return finish('cancelled');
      skipPending();
      await explain();
      return finish('failure', errorMessage(err));
    }
  };
  const explain = async () => {
    for (const n of (await backend.explainFailure?.(job).catch(() => [])) ?? []) notice(n);
  };

  try {
    const result = await Promise.race([run(), cancelled.promise]);
    if (opts.keep && !signal.aborted && result.status !== 'cancelled') await opts.keep(result, (paths) => backend.readWorkspace(job, paths));
    return result;
  } finally {
    signal.removeEventListener('abort', onAbort);
    for (const p of prepared.values()) p.discard();
    prepared.clear();
    // On a cancel the teardown takes everything at once; otherwise each container goes first.
    if (!signal.aborted) await Promise.all(background.map((c) => c.remove().catch(() => undefined)));
    const removal = tearDown(signal.aborted);
    if (opts.deferTeardown) opts.deferTeardown(removal);
    else await removal;
  }
}
