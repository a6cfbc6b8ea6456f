// A GitHub workflow with a 6-entry matrix (one `run` step each, runs-on ubuntu-latest, so the
// default runner image) through runPlans on a runner's default warm pool, next to the same six
// containers started at once by `docker run --rm` on the host engine, in the same run. Each
// job's time is split into phases (engine from the pool, set-up in it, job container start,
// the step's exec, teardown) from hooks on the Docker backend.
// Run alone: BENCH_ONLY=gha npm run -s bench:pipeline
import { spawn } from 'node:child_process';
import type { EngineClient } from '../src/engine/engine-client.ts';
import type { ImageSupply } from '../src/engine/images/supply.ts';
import { nestorLabels } from '../src/engine/labels.ts';
import { DockerBackend } from '../src/backend/docker/docker-backend.ts';
import type { DockerJob } from '../src/backend/docker/docker-job.ts';
import type { RunningContainer, SetupOptions, StartOptions, StepSpec, JobSpec } from '../src/backend/backend.ts';
import { compileText } from '../src/pipeline/load.ts';
import { runPlans } from '../src/runner/run-plans.ts';
import { githubJobContainer } from '../src/pipeline/warm-job-container.ts';
import { DEFAULT_RUNNER_IMAGE, DEFAULT_STEP_IMAGE, DEFAULT_STEP_SLOTS, defaultMaxJobs } from '../src/config.ts';
import { percentile } from './stats.ts';

const log = (s: string) => process.stderr.write(`${s}\n`);
const ENTRIES = 6;
const FILE = '.github/workflows/m.yml';
const WORKFLOW = `name: m
on: push
jobs:
  m:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        n: [${Array.from({ length: ENTRIES }, (_, i) => i + 1).join(', ')}]
    steps:
      - run: echo entry \${{ matrix.n }}
`;

/**
 * `nestor runner`'s defaults on this machine (src/cli/commands/server.ts, src/runner/agent.ts):
 * `--max-jobs` from its cores and memory (defaultMaxJobs), as many engines kept warm, each with
 * DEFAULT_STEP_SLOTS step slots of DEFAULT_STEP_IMAGE (the server hands a matrix out as one job
 * per entry; each runs through runPlans with parallel 1, so max-jobs at once is runPlans'
 * parallel), isolation auto, teardown deferred past the result, as the runner does.
 */
const MAX_JOBS = defaultMaxJobs();
export const RUNNER_DEFAULTS = { warm: MAX_JOBS, parallel: MAX_JOBS, stepSlots: DEFAULT_STEP_SLOTS, stepImage: DEFAULT_STEP_IMAGE, isolation: 'auto' } as const;

/** Where each job's time went, in ms from the moment the plans were handed to runPlans. */
interface JobTimes {
  setupStart?: number;
  engineReady?: number;
  /** The engine came ready from the pool (acquired in under half its start), not started for the job. */
  warm?: boolean;
  setupEnd?: number;
  containerStart?: number;
  containerStarted?: number;
  execStart?: number;
  execStarted?: number;
  execEnded?: number;
  teardownStart?: number;
  teardownEnd?: number;
  result?: number;
}

/** The Docker backend, each call a job makes timed. */
export class TimedBackend extends DockerBackend {
  t0 = 0;
  readonly jobs = new Map<string, JobTimes>();
  private readonly byJob = new WeakMap<DockerJob, JobTimes>();
  private now(): number {
    return performance.now() - this.t0;
  }

  override async setupJob(spec: JobSpec, opts: SetupOptions): Promise<DockerJob> {
    const t: JobTimes = { setupStart: this.now() };
    this.jobs.set(spec.name, t);
    const job = await super.setupJob(spec, {
      ...opts,
      engineReady: (e) => {
        t.engineReady = this.now();
        // One the pool had ready answers at once; one started for the job takes its whole
        // start (readyMs), one the pool was already starting for the next job a part of it.
        t.warm = t.engineReady - t.setupStart! < Math.min(e.readyMs / 2, 1000);
        opts.engineReady?.(e);
      },
    });
    t.setupEnd = this.now();
    this.byJob.set(job, t);
    return job;
  }

  override async startStep(job: DockerJob, step: StepSpec, opts: StartOptions): Promise<RunningContainer> {
    const t = this.byJob.get(job)!;
    const exec = step.execIn !== undefined;
    if (exec) t.execStart = this.now();
    else t.containerStart = this.now();
    const running = await super.startStep(job, step, opts);
    if (exec) t.execStarted = this.now();
    else t.containerStarted = this.now();
    if (!exec) return running;
    const wait = running.wait.bind(running);
    running.wait = async () => {
      const exit = await wait();
      t.execEnded ??= this.now();
      return exit;
    };
    return running;
  }

  override async teardownJob(job: DockerJob, opts: { cancelled?: boolean } = {}): Promise<void> {
    const t = this.byJob.get(job)!;
    t.teardownStart ??= this.now();
    await super.teardownJob(job, opts);
    t.teardownEnd ??= this.now();
  }
}

/** The six containers by six `docker run --rm` at once on the host engine: ms until all exit. */
async function rawSix(): Promise<number> {
  const labels = Object.entries(nestorLabels('step', { 'dev.nestor.bench': 'gha-matrix-raw' })).flatMap(([k, v]) => ['--label', `${k}=${v}`]);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: ENTRIES }, (_, i) =>
      new Promise<void>((resolve, reject) => {
        const child = spawn('docker', ['run', '--rm', ...labels, DEFAULT_RUNNER_IMAGE, 'sh', '-c', `echo entry ${i + 1}`], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        child.stdout.on('data', (d: Buffer) => (out += d.toString()));
        child.on('error', reject);
        child.on('exit', (code) => (code === 0 && out.trim() === `entry ${i + 1}` ? resolve() : reject(new Error(`docker run ${i + 1} exited ${code}: ${out}`))));
      }),
    ),
  );
  return performance.now() - t0;
}

const round = (n: number | undefined) => (n === undefined ? undefined : Math.round(n));
const median = (xs: number[]) => percentile(xs, 50);

/**
 * Per run: the mean over the six jobs of each phase (ms), so that the phases of a job add up
 * to its span; the engine's acquisition apart for engines the pool had ready and those it had
 * to start (or was starting) for the job.
 */
function phasesOf(times: JobTimes[]) {
  const mean = (xs: number[]) => (xs.length ? Math.round(xs.reduce((a, b) => a + b, 0) / xs.length) : NaN);
  const d = (f: (t: JobTimes) => number) => mean(times.map(f).filter(Number.isFinite));
  const warm = times.filter((t) => t.warm);
  const cold = times.filter((t) => !t.warm);
  return {
    from_pool_ready: warm.length,
    started_for_job: cold.length,
    // From runPlans to the job's set-up: waiting for a place among the `parallel`.
    queued: d((t) => t.setupStart!),
    acquire_ready_engine: mean(warm.map((t) => t.engineReady! - t.setupStart!)),
    acquire_started_engine: mean(cold.map((t) => t.engineReady! - t.setupStart!)),
    acquire: d((t) => t.engineReady! - t.setupStart!),
    // The job's images (the runner image, pulled through the image supply into the engine) and its workspace volume.
    setup_in_engine: d((t) => t.setupEnd! - t.engineReady!),
    job_container_start: d((t) => t.containerStarted! - t.setupEnd!),
    exec_start: d((t) => t.execStarted! - t.containerStarted!),
    exec_run: d((t) => t.execEnded! - t.execStarted!),
    to_result: d((t) => t.result! - t.execEnded!),
    job_span: d((t) => t.result! - t.setupStart!),
    // Deferred past the result, as a runner does: off the jobs' own spans, not off the host's CPUs.
    teardown: d((t) => t.teardownEnd! - t.teardownStart!),
  };
}

export async function measureGhaMatrix(host: EngineClient, supply: ImageSupply, runs: number) {
  const backend = new TimedBackend({
    host,
    isolation: RUNNER_DEFAULTS.isolation,
    supply,
    warm: { size: RUNNER_DEFAULTS.warm, stepImage: RUNNER_DEFAULTS.stepImage, stepSlots: RUNNER_DEFAULTS.stepSlots, images: [DEFAULT_RUNNER_IMAGE], containers: [githubJobContainer()], onError: (err) => log(`warm engine failed: ${err.message}`) },
  });
  const figures = await measureOn(backend, { warm: RUNNER_DEFAULTS.warm, parallel: RUNNER_DEFAULTS.parallel }, runs);
  return {
    ...figures,
    gha_matrix6_warm: RUNNER_DEFAULTS.warm,
    gha_matrix6_parallel: RUNNER_DEFAULTS.parallel,
    gha_matrix6_setup: `${ENTRIES} matrix jobs of ${FILE} (runs-on ubuntu-latest: ${DEFAULT_RUNNER_IMAGE}, one run step each) through runPlans on a DockerBackend with a runner's defaults: warm ${RUNNER_DEFAULTS.warm} (nestor runner --warm, default --max-jobs), ${RUNNER_DEFAULTS.stepSlots} step slots of ${RUNNER_DEFAULTS.stepImage}, parallel ${RUNNER_DEFAULTS.parallel} (--max-jobs), isolation ${RUNNER_DEFAULTS.isolation}, warm engines holding ${DEFAULT_RUNNER_IMAGE} and a GitHub job container started in it as a runner's do, teardown deferred past the result; timed from runPlans until all results; raw: ${ENTRIES} docker run --rm of ${DEFAULT_RUNNER_IMAGE} at once on the host engine`,
  };
}

/** The matrix on `backend` (closed at the end), `parallel` at once, its pool of `warm` full before each run. */
export async function measureOn(backend: TimedBackend, pool: { warm: number; parallel: number }, runs: number) {
  const plans = compileText({ file: FILE, text: WORKFLOW }, { defaultImage: DEFAULT_STEP_IMAGE, branch: 'main', event: 'push' });
  if (plans.length !== ENTRIES || plans.some((p) => p.images[0] !== DEFAULT_RUNNER_IMAGE)) throw new Error(`the workflow did not compile to ${ENTRIES} jobs in ${DEFAULT_RUNNER_IMAGE}`);
  backend.warmUp();
  // A runner between jobs: its pool full, nothing starting or being removed while a run is timed.
  const settled = async () => {
    while (backend.readyEngines < pool.warm) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 500));
  };

  const gha: number[] = [];
  const raw: number[] = [];
  const tails: number[] = [];
  const phases: ReturnType<typeof phasesOf>[] = [];
  try {
    for (let i = 0; i <= runs; i++) {
      await settled();
      const removals: Promise<void>[] = [];
      const lines: string[] = [];
      backend.jobs.clear();
      backend.t0 = performance.now();
      const results = await runPlans(plans, {
        backend,
        parallel: pool.parallel,
        deferTeardown: (r) => void removals.push(r),
        onLog: (l) => void (l.source !== 'nestor' && lines.push(l.text)),
        onEvent: (e) => {
          if (e.type === 'step' && e.step.status !== 'pending' && e.step.status !== 'running' && !e.step.name.startsWith('job-container')) {
            const t = backend.jobs.get(e.job);
            if (t) t.result = performance.now() - backend.t0;
          }
        },
      });
      const ms = performance.now() - backend.t0;
      await Promise.all(removals);
      const tail = performance.now() - backend.t0 - ms;
      const failed = results.filter((r) => r.status !== 'success');
      if (failed.length) throw new Error(`matrix jobs failed: ${JSON.stringify(failed.map((r) => ({ name: r.name, status: r.status, error: r.error })))}`);
      for (let n = 1; n <= ENTRIES; n++) if (!lines.includes(`entry ${n}`)) throw new Error(`no "entry ${n}" in the jobs' output: ${JSON.stringify(lines)}`);
      // The result of each job: when runJob returned (runPlans resolves with all of them).
      for (const t of backend.jobs.values()) t.result = Math.min(t.result ?? ms, ms);
      const p = phasesOf([...backend.jobs.values()]);

      await settled();
      const r = await rawSix();
      if (i === 0) {
        log(`gha matrix warm-up: ${Math.round(ms)} ms, raw ${Math.round(r)} ms`);
        continue;
      }
      gha.push(ms);
      raw.push(r);
      tails.push(tail);
      phases.push(p);
      log(`gha matrix run ${i}/${runs}: ${Math.round(ms)} ms (teardown tail ${Math.round(tail)} ms), raw ${Math.round(r)} ms; ${JSON.stringify(p)}`);
      log(`  jobs: ${JSON.stringify([...backend.jobs].map(([name, t]) => [name, Object.fromEntries(Object.entries(t).map(([k, v]) => [k, typeof v === 'number' ? round(v) : v]))]))}`);
    }
  } finally {
    await backend.close();
  }
  const ghaP50 = median(gha);
  const rawP50 = median(raw);
  const phase = Object.fromEntries(Object.keys(phases[0]!).map((k) => [k, median(phases.map((p) => p[k as keyof typeof p]).filter(Number.isFinite))]));
  return {
    gha_matrix6_runs: runs,
    gha_matrix6_ms: ghaP50,
    gha_matrix6_p90_ms: percentile(gha, 90),
    gha_matrix6_raw_ms: rawP50,
    gha_matrix6_raw_p90_ms: percentile(raw, 90),
    gha_matrix6_overhead: Math.round(((ghaP50 - rawP50) / rawP50) * 100) / 100,
    gha_matrix6_teardown_tail_ms: median(tails),
    gha_matrix6_phase_mean_per_job_p50_ms: phase,
  };
}
