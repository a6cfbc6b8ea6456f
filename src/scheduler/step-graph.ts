import type { Backend, JobHandle, PreparedStep, RunningContainer, StepSpec } from '../backend/backend.ts';
import { errorMessage } from '../errors.ts';
import type { JobPlan, PlanStep } from '../pipeline/plan.ts';
import { FAILED, type StepResult } from './results.ts';
import { stepSink, type LogTarget } from './sinks.ts';
import { privilegeHint, watchPrivilegeRefusal } from './privilege-hint.ts';
import type { GithubJobRun } from './github-steps.ts';
import type { LiveSteps } from './live-steps.ts';

/** What one walk of a job's step graph works with. */
export interface GraphRun {
  backend: Backend;
  job: JobHandle;
  plan: JobPlan;
  /** The backend's view of each step that may run. */
  specs: Map<string, StepSpec>;
  results: Map<string, StepResult>;
  logs: LogTarget;
  /** The job's cancel. */
  signal: AbortSignal;
  report: (r: StepResult, startedAt?: number) => void;
  /** Detached steps, running until the job ends. */
  background: RunningContainer[];
  /** Steps readied ahead by the backend and not started yet. */
  prepared: Map<string, PreparedStep>;
  /** A GitHub Actions job: its steps are finished from the job's state as each starts. */
  github?: GithubJobRun;
  /** Started steps, for a shell; failed ones held for one. */
  live?: LiveSteps;
}

const CANCELLED = { status: 'cancelled', reason: 'the job was cancelled' } as const;

/**
 * Starts each step once what it depends on has finished (a detached step: once started), each
 * allowed by its `when` on the job's status so far. Steps whose dependencies have all started
 * are offered to the backend to ready ahead, so they start the moment those end.
 */
export async function runGraph(g: GraphRun): Promise<void> {
  const { plan, results, signal } = g;
  const done = new Set<string>();
  const running = new Map<string, Promise<void>>();
  const failedSoFar = () => [...results.values()].some((r) => FAILED.includes(r.status));

  while (done.size < plan.steps.length) {
    for (const step of plan.steps) {
      if (done.has(step.name) || running.has(step.name)) continue;
      if (!step.dependsOn.every((d) => done.has(d))) continue;
      const result = results.get(step.name)!;
      const notRunBecause = signal.aborted
        ? CANCELLED.reason
        : step.notRunBecause ?? (failedSoFar() ? (step.runOn.includes('failure') ? undefined : 'an earlier step failed') : step.runOn.includes('success') ? undefined : 'runs only when a step failed');
      if (notRunBecause) {
        Object.assign(result, { status: signal.aborted ? 'cancelled' : 'skipped', reason: notRunBecause });
        done.add(step.name);
        g.prepared.get(step.name)?.discard();
        g.prepared.delete(step.name);
        if (step.github) g.github?.finish(step, result);
        g.report(result);
        continue;
      }
      running.set(
        step.name,
        runStep(g, step, result, step.statusEnvironment?.[failedSoFar() ? 'failure' : 'success']).finally(() => {
          running.delete(step.name);
          done.add(step.name);
        }),
      );
    }
    for (const step of plan.steps) {
      if (signal.aborted || !g.backend.prepareStep) break;
      // A step told the job's status as it starts (statusEnvironment, a GitHub step) is not made ahead of it.
      if (done.has(step.name) || running.has(step.name) || step.notRunBecause !== undefined || step.statusEnvironment || step.github || g.prepared.has(step.name)) continue;
      if (!step.dependsOn.every((d) => done.has(d) || running.has(d))) continue;
      const prepared = g.backend.prepareStep(g.job, g.specs.get(step.name)!);
      if (prepared) g.prepared.set(step.name, prepared);
    }
    if (running.size === 0 && done.size < plan.steps.length) throw new Error('no step can start: the dependency graph is stuck');
    if (running.size) await Promise.race(running.values());
  }
}

/** Runs one step to its end (a detached one until started), within its timeout; never throws. */
async function runStep(g: GraphRun, step: PlanStep, result: StepResult, status?: Record<string, string>): Promise<void> {
  const t0 = performance.now();
  const github = step.github && g.github ? g.github.prepare(step, g.specs.get(step.name)!) : undefined;
  if (github && 'skip' in github) {
    Object.assign(result, { status: 'skipped', reason: github.skip });
    g.github!.finish(step, result);
    g.report(result);
    return;
  }
  result.status = 'running';
  g.report(result, Date.now());
  const timeout = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let privilege: ReturnType<typeof watchPrivilegeRefusal> | undefined;
  let unlist: (() => void) | undefined;
  try {
    const prepared = g.prepared.get(step.name);
    g.prepared.delete(step.name);
    const sink = stepSink(g.logs, g.plan.name, step.name);
    privilege = watchPrivilegeRefusal(github ? g.github!.sink(step, sink) : sink);
    const opts = { sink: privilege.sink, signal: step.detach ? g.signal : AbortSignal.any([g.signal, timeout.signal]) };
    const spec = github?.spec ?? g.specs.get(step.name)!;
    for (const line of github?.say ?? []) sink.line('stdout', line);
    const container = prepared ? await prepared.start(opts) : await g.backend.startStep(g.job, status ? { ...spec, environment: { ...spec.environment, ...status } } : spec, opts);
    const key = g.live && `${g.plan.name}/${step.name}`;
    if (key) unlist = g.live!.add(key, step.name, container);
    if (step.detach) {
      unlist = undefined;
      g.background.push(container);
      Object.assign(result, { status: 'success', reason: 'detached: runs until the job ends' });
      return;
    }
    const seconds = step.timeoutMs / 1000;
    timer = setTimeout(() => timeout.abort(new DOMException(`did not finish within ${seconds} s`, 'TimeoutError')), step.timeoutMs);
    const exit = await container.wait();
    clearTimeout(timer);
    // Held for a shell: its container stays until the hold ends (what it left is looked at in it).
    if (key && exit.exitCode !== 0 && exit.exitCode !== null && !g.signal.aborted && !step.ignoreFailure) await g.live!.hold(key, g.signal, (text) => sink.line('stderr', text));
    await container.remove();
    if (github && 'collect' in github && github.collect && exit.exitCode !== null) await (await g.backend.startStep(g.job, github.collect, opts)).wait();
    // A step whose end was never known (its engine went away) counts as cancelled, as it ended with the job.
    result.exitCode = exit.exitCode ?? -1;
    if (g.signal.aborted || (exit.exitCode === null && !timeout.signal.aborted)) Object.assign(result, CANCELLED);
    else if (timeout.signal.aborted) Object.assign(result, { status: 'timeout', reason: `did not finish within ${seconds} s` });
    else if (exit.exitCode === 0) result.status = 'success';
    else if (step.ignoreFailure) Object.assign(result, { status: 'ignored', reason: `exit code ${exit.exitCode}, ignored (failure: ignore)` });
    else Object.assign(result, { status: 'failure', reason: `exit code ${exit.exitCode}` });
  } catch (err) {
    Object.assign(result, g.signal.aborted ? CANCELLED : { status: 'failure', reason: errorMessage(err) });
  } finally {
    clearTimeout(timer);
    unlist?.();
    if ((result.status as StepResult['status']) === 'failure' && privilege?.refused()) {
      const hint = privilegeHint(step.name, g.job.engine.isolation);
      stepSink(g.logs, g.plan.name, step.name).line('stderr', `nestor: ${hint}`);
      result.reason = `${result.reason ?? 'failed'}: ${hint}`;
    }
    result.durationMs = performance.now() - t0;
    if (step.github) g.github?.finish(step, result);
    g.report(result);
  }
}
