import type Docker from 'dockerode';
import { randomBytes } from 'node:crypto';
import { errorMessage } from '../errors.ts';
import { LABEL_ENGINE, LABEL_JOB, LABEL_MANAGED, nestorLabels } from '../engine/labels.ts';
import { removeLabelled } from '../engine/cleanup.ts';
import type { NestedEngine } from '../engine/nested/nested-engine.ts';
import type { JobPlan, PlanStep } from '../pipeline/plan.ts';
import { engineNames } from './engine-transport.ts';
import type { JobContext } from './job-context.ts';
import { prepareImages } from './job-images.ts';
import { SecretMasker, type LogLine } from './log-lines.ts';
import { explainPullFallbacks } from './pull-fallbacks.ts';
import { attachOutput, waitFor } from './run-process.ts';
import { PROBE_IMAGE, startService } from './services.ts';
import { sourceArchive, sourceFiles } from './source-archive.ts';
import { StepStarter } from './step-starter.ts';
import { createWorkspaceVolume } from './workspace-volume.ts';
import { takeStepSlots, type StepSlot } from './step-slot.ts';

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
  engine: string;
  error?: string;
}

export type JobEvent =
  | { type: 'notice'; job: string; text: string }
  | { type: 'step'; job: string; step: StepResult; startedAt?: number };

export interface ExecuteOptions {
  /** Copied into the workspace before the first step. */
  sourceDir?: string;
  secrets?: Record<string, string>;
  signal?: AbortSignal;
  onLog: (line: LogLine) => void;
  /** A promise while the log consumer is full: containers' output then waits (back-pressure). */
  logsFull?: () => Promise<void> | undefined;
  onEvent?: (event: JobEvent) => void;
  serviceTimeoutMs?: number;
}

const FAILED: StepStatus[] = ['failure', 'timeout'];

/**
 * Runs one job's plan on its engine: network, volumes, workspace with the source, services
 * until ready, then the steps in dependency order. Everything it makes carries the job's label
 * and is removed at the end, whatever the outcome; the engine itself belongs to the caller.
 */
export async function executeJob(plan: JobPlan, engine: NestedEngine, opts: ExecuteOptions): Promise<JobResult> {
  const started = performance.now();
  const startedAt = Date.now();
  const id = `nestor-job-${randomBytes(4).toString('hex')}`;
  const signal = opts.signal ?? new AbortController().signal;
  const secrets = opts.secrets ?? {};
  const masker = new SecretMasker(Object.values(secrets));
  const notice = (text: string) => opts.onEvent?.({ type: 'notice', job: plan.name, text });
  const results = new Map<string, StepResult>(plan.steps.map((s) => [s.name, { name: s.name, status: 'pending', durationMs: 0 }]));
  const docker = engine.docker;
  // The engine label too: in socket mode these objects live on the host engine, and the
  // engine's destroy (also on cancel and crash clean-up) must find them.
  const labels = { [LABEL_JOB]: id, [LABEL_ENGINE]: engine.name };
  const background: Docker.Container[] = [];
  const finish = (status: JobResult['status'], error?: string): JobResult => ({
    name: plan.name,
    status,
    steps: [...results.values()],
    durationMs: performance.now() - started,
    engine: engine.name,
    ...(error ? { error } : {}),
  });

  for (const n of plan.notices) notice(n.message);
  // A warm engine's slots fit only a native file's workspace; they are the job's either way.
  const taken = takeStepSlots(engine);
  const slots = plan.workspace === '/workspace' ? taken : [];
  if (!slots.length) for (const slot of taken) slot.armed.dispose();
  let starter: StepStarter | undefined;
  try {
    const needsProbe = plan.services.length > 0;
    const [ctx] = await Promise.all([
      makeContext(id, engine, plan, labels, secrets, slots[0]),
      prepareImages(docker, [...plan.images, ...(needsProbe ? [PROBE_IMAGE] : [])], notice),
    ]);
    if (signal.aborted) return finish('cancelled');
    if (opts.sourceDir && plan.copySource) await copySource(ctx, plan, opts.sourceDir);

    for (const svc of plan.services) {
      background.push(await startService(ctx, svc, opts.serviceTimeoutMs ?? 60_000, masker, opts.onLog));
    }
    starter = new StepStarter(ctx, slots);
    await runGraph(ctx, starter, plan, results, masker, opts, signal, background);
    const steps = [...results.values()];
    if (signal.aborted || steps.some((s) => s.status === 'cancelled')) return finish('cancelled');
    if (!steps.some((s) => FAILED.includes(s.status))) return finish('success');
    await explainPullFallbacks(engine, startedAt, notice);
    return finish('failure');
  } catch (err) {
    if (signal.aborted) return finish('cancelled');
    for (const r of results.values()) if (r.status === 'pending') r.status = 'skipped';
    await explainPullFallbacks(engine, startedAt, notice);
    return finish('failure', errorMessage(err));
  } finally {
    if (starter) starter.close();
    else for (const slot of slots) slot.armed.dispose();
    // A nested engine is destroyed by the caller with everything in it (also on cancel);
    // only in socket mode, on the host's own engine, must the job clean up after itself.
    if (!signal.aborted && engine.isolation === 'socket') {
      await Promise.all(background.map((c) => c.remove({ force: true }).catch(() => undefined)));
      await removeLabelled(docker, [`${LABEL_MANAGED}=true`, `${LABEL_JOB}=${id}`]).catch(() => undefined);
    }
  }
}

async function makeContext(
  id: string,
  engine: NestedEngine,
  plan: JobPlan,
  labels: Record<string, string>,
  secrets: Record<string, string>,
  slot: StepSlot | undefined,
): Promise<JobContext> {
  const docker = engine.docker;
  const disposable = engine.isolation !== 'socket';
  const workspaceVolume = slot?.workspaceVolume ?? `${id}-workspace`;
  const volumes = new Map(plan.volumes.map((v) => [v, `${id}-${v}`]));
  const [workspaceMountpoint] = await Promise.all([
    slot ? slot.workspaceMountpoint : createWorkspaceVolume(docker, workspaceVolume, labels),
    ...[...volumes.values()].map((name) => docker.createVolume({ Name: name, Labels: nestorLabels('storage', labels) })),
    ...(disposable ? [] : [docker.createNetwork({ Name: id, Driver: 'bridge', Labels: nestorLabels('network', labels) })]),
  ]);
  const localNames = plan.services.flatMap((s) => [s.name, ...s.aliases]).concat(plan.steps.filter((s) => s.detach).map((s) => s.name));
  return {
    id,
    engine,
    docker,
    network: disposable ? 'host' : id,
    engineNames: engineNames(plan.engineAliases),
    localNames,
    disposable,
    workspaceVolume,
    workspaceMountpoint,
    volumes,
    labels,
    secrets,
  };
}

/** Puts the source into the workspace volume through a container that is never started. */
async function copySource(ctx: JobContext, plan: JobPlan, dir: string): Promise<void> {
  const files = await sourceFiles(dir);
  if (files.length === 0) return;
  const holder = await ctx.docker.createContainer({
    Image: plan.images[0] ?? PROBE_IMAGE,
    Labels: nestorLabels('workspace', ctx.labels),
    HostConfig: { Binds: [`${ctx.workspaceVolume}:${plan.workspace}`], NetworkMode: 'none' },
  });
  try {
    await holder.putArchive(sourceArchive(dir, files) as unknown as NodeJS.ReadableStream, { path: plan.workspace });
  } finally {
    await holder.remove({ force: true }).catch(() => undefined);
  }
}

/** Starts each step once what it depends on has finished (a detached step: once started). */
async function runGraph(
  ctx: JobContext,
  starter: StepStarter,
  plan: JobPlan,
  results: Map<string, StepResult>,
  masker: SecretMasker,
  opts: ExecuteOptions,
  signal: AbortSignal,
  background: Docker.Container[],
): Promise<void> {
  const done = new Set<string>();
  const running = new Map<string, Promise<void>>();
  const report = (r: StepResult, startedAt?: number) => opts.onEvent?.({ type: 'step', job: plan.name, step: { ...r }, ...(startedAt ? { startedAt } : {}) });
  const failedSoFar = () => [...results.values()].some((r) => FAILED.includes(r.status));

  while (done.size < plan.steps.length) {
    for (const step of plan.steps) {
      if (done.has(step.name) || running.has(step.name)) continue;
      if (!step.dependsOn.every((d) => done.has(d))) continue;
      const result = results.get(step.name)!;
      const notRunBecause = signal.aborted
        ? 'the job was cancelled'
        : step.notRunBecause ?? (failedSoFar() ? (step.runOn.includes('failure') ? undefined : 'an earlier step failed') : step.runOn.includes('success') ? undefined : 'runs only when a step failed');
      if (notRunBecause) {
        Object.assign(result, { status: signal.aborted ? 'cancelled' : 'skipped', reason: notRunBecause });
        done.add(step.name);
        starter.drop(step);
        report(result);
        continue;
      }
      running.set(
        step.name,
        runStep(ctx, starter, plan, step, result, masker, opts, signal, background, report).finally(() => {
          running.delete(step.name);
          done.add(step.name);
        }),
      );
    }
    // Steps whose dependencies have all started are armed now, so they start the moment those end.
    for (const step of plan.steps) {
      if (!starter.room || signal.aborted) break;
      if (done.has(step.name) || running.has(step.name) || step.notRunBecause || starter.isArmed(step)) continue;
      if (step.dependsOn.every((d) => done.has(d) || running.has(d))) starter.armAhead(step);
    }
    if (running.size === 0 && done.size < plan.steps.length) throw new Error('no step can start: the dependency graph is stuck');
    if (running.size) await Promise.race(running.values());
  }
}

async function runStep(
  ctx: JobContext,
  starter: StepStarter,
  plan: JobPlan,
  step: PlanStep,
  result: StepResult,
  masker: SecretMasker,
  opts: ExecuteOptions,
  signal: AbortSignal,
  background: Docker.Container[],
  report: (r: StepResult, startedAt?: number) => void,
): Promise<void> {
  const t0 = performance.now();
  result.status = 'running';
  report(result, Date.now());
  const sink = { meta: { job: plan.name, source: step.name }, masker, onLog: opts.onLog, ...(opts.logsFull ? { full: opts.logsFull } : {}) };
  try {
    let container: Docker.Container;
    let waited: { exitCode: number; outcome: 'exited' | 'timeout' | 'cancelled' };
    if (starter.gated(step)) {
      const { armed, run } = await starter.take(step);
      container = armed.container;
      armed.release(sink, run);
      waited = await waitFor(container, step.timeoutMs, signal, armed.finished);
      // Past the gate's marker every line has been read; a killed step's output is read to its end.
      await Promise.race([armed.finished, armed.ended]);
    } else {
      container = await ctx.docker.createContainer(starter.options(step));
      const { ended } = await attachOutput(container, sink);
      await container.start();
      if (step.detach) {
        background.push(container);
        Object.assign(result, { status: 'success', reason: 'detached: runs until the job ends' });
        return;
      }
      waited = await waitFor(container, step.timeoutMs, signal);
      await ended;
    }
    const { exitCode, outcome } = waited;
    // A throw-away engine takes its containers with it; removing each one only costs time.
    if (!ctx.disposable) await container.remove({ force: true }).catch(() => undefined);
    result.exitCode = exitCode;
    if (outcome === 'cancelled') Object.assign(result, { status: 'cancelled', reason: 'the job was cancelled' });
    else if (outcome === 'timeout') Object.assign(result, { status: 'timeout', reason: `did not finish within ${step.timeoutMs / 1000} s` });
    else if (exitCode === 0) result.status = 'success';
    else if (step.ignoreFailure) Object.assign(result, { status: 'ignored', reason: `exit code ${exitCode}, ignored (failure: ignore)` });
    else Object.assign(result, { status: 'failure', reason: `exit code ${exitCode}` });
  } catch (err) {
    Object.assign(result, signal.aborted ? { status: 'cancelled', reason: 'the job was cancelled' } : { status: 'failure', reason: errorMessage(err) });
  } finally {
    result.durationMs = performance.now() - t0;
    report(result);
  }
}
