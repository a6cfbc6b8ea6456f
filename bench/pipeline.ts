// npm run bench:pipeline — what a pipeline costs on top of the containers it runs: a one-step
// job through the same code `nestor run` uses, next to a raw `docker run` (create, start,
// wait, remove through the Engine API) on the same kind of warm nested engine; and a GitHub
// workflow's 6-entry matrix on a runner's default warm pool, next to six raw `docker run` at
// once on the host (gha-matrix.ts).
// BENCH_ONLY=steps or BENCH_ONLY=gha runs one part; the figures of the other part are kept
// from the last bench/results/pipeline.json, so the file always holds every figure.
import { existsSync, readFileSync } from 'node:fs';
import { connect, ping } from '../src/engine/engine-client.ts';
import { endpointFromEnv } from '../src/engine/docker-host.ts';
import { EnginePool } from '../src/engine/pool.ts';
import { ImageSupply } from '../src/engine/images/supply.ts';
import { runContainer } from '../src/engine/run-container.ts';
import type { NestedEngine } from '../src/engine/nested/nested-engine.ts';
import { compile } from '../src/pipeline/compile.ts';
import { readPipelines } from '../src/pipeline/load.ts';
import { executeJob } from '../src/runner/execute-job.ts';
import { prepareStepSlots } from '../src/backend/docker/step-slot.ts';
import { stepSlots } from '../src/config.ts';
import { percentile, report } from './stats.ts';
import { measureLargeGitlab } from './gitlab-large.ts';
import { measureGhaMatrix } from './gha-matrix.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 10);
const IMAGE = 'busybox:latest';
const STEP_SECONDS = 0.3;
const GHA_RUNS = Number(process.env.BENCH_GHA_RUNS ?? 5);
const log = (s: string) => process.stderr.write(`${s}\n`);
const ONLY = process.env.BENCH_ONLY?.trim();
if (ONLY && ONLY !== 'steps' && ONLY !== 'gha') throw new Error(`BENCH_ONLY=${ONLY}: say steps or gha, or leave it unset for both`);
const resultsFile = new URL('./results/pipeline.json', import.meta.url).pathname;
const previous = ONLY && existsSync(resultsFile) ? (JSON.parse(readFileSync(resultsFile, 'utf8')) as Record<string, unknown>) : {};

const host = connect(endpointFromEnv(process.env));
await ping(host);
const supply = await ImageSupply.start(host);
const steps = ONLY === 'gha' ? {} : await measureSteps();
const gha = ONLY === 'steps' ? {} : await measureGhaMatrix(host, supply, GHA_RUNS);
await supply.close();
report('pipeline', { ...previous, ...steps, ...gha });

async function measureSteps(): Promise<Record<string, unknown>> {
  // Compiling needs no engine: measured first, while nothing else runs.
  const large = measureLargeGitlab();

  // As a runner's pool: each warm engine has containers for its first steps started (step-slot.ts).
  const pool = new EnginePool({
    size: 2,
    engine: { host, isolation: 'auto', daemon: supply.daemonOptions(), images: [IMAGE] },
    prepare: (engine) => prepareStepSlots(engine, IMAGE, stepSlots(process.env)),
  });
  await pool.start();
  // Waits for a full pool, so no engine is starting in the background while a run is timed.
  const warm = async (): Promise<NestedEngine> => {
    while (pool.available < 2) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 200));
    return pool.acquire();
  };

  function planOf(text: string) {
    const opts = { defaultImage: IMAGE, branch: 'main', event: 'push' };
    const [{ config, source }] = readPipelines('.nestor.yml', text, opts) as [ReturnType<typeof readPipelines>[number]];
    return compile(config, source, opts)[0]!;
  }

  const oneStep = planOf('steps:\n  hello:\n    commands: [echo hi]\n');
  const stepNames = ['a', 'b1', 'b2', 'b3', 'b4', 'c1', 'c2', 'c3', 'c4', 'd'];
  const dagText = `steps:\n${stepNames
    .map((n) => {
      const deps = n === 'a' ? [] : n.startsWith('b') ? ['a'] : n.startsWith('c') ? [`b${n[1]}`] : ['c1', 'c2', 'c3', 'c4'];
      return `  ${n}:\n    commands: [sleep ${STEP_SECONDS}]\n    depends_on: [${deps.join(', ')}]\n`;
    })
    .join('')}`;
  const dag = planOf(dagText);
  const criticalPathMs = 4 * STEP_SECONDS * 1000; // a → b → c → d

  const jobMs: number[] = [];
  const firstStepMs: number[] = [];
  const rawMs: number[] = [];
  const dagOverhead: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    // One-step job on a warm engine, as `nestor run` does it.
    let engine = await warm();
    const t0 = performance.now();
    let firstLine = 0;
    const result = await executeJob(oneStep, engine, { onLog: () => (firstLine ||= performance.now()) });
    jobMs.push(performance.now() - t0);
    firstStepMs.push(firstLine - t0);
    if (result.status !== 'success') throw new Error(`one-step job failed: ${JSON.stringify(result)}`);
    await pool.release(engine);

    // The same container by a raw run on a warm engine of the same kind, on the same (host)
    // network of the engine, so the comparison is of Nestor's work, not of network set-up.
    engine = await warm();
    const t1 = performance.now();
    const raw = await runContainer(engine.docker, { image: IMAGE, cmd: ['sh', '-c', 'echo hi'], network: 'host' });
    rawMs.push(performance.now() - t1);
    if (raw.exitCode !== 0) throw new Error('raw run failed');
    await pool.release(engine);

    // A 10-step graph: a, then four b, then four c, then d; each step sleeps 0.3 s.
    engine = await warm();
    const t2 = performance.now();
    const dagResult = await executeJob(dag, engine, { onLog: () => undefined });
    dagOverhead.push(performance.now() - t2 - criticalPathMs);
    if (dagResult.status !== 'success') throw new Error(`DAG job failed: ${JSON.stringify(dagResult)}`);
    await pool.release(engine);
    log(`run ${i + 1}/${RUNS}: job ${Math.round(jobMs.at(-1)!)} ms, raw ${Math.round(rawMs.at(-1)!)} ms, first step ${Math.round(firstStepMs.at(-1)!)} ms, DAG overhead ${Math.round(dagOverhead.at(-1)!)} ms`);
  }
  await pool.close();

  return {
    runs: RUNS,
    one_step_p50_ms: percentile(jobMs, 50),
    one_step_p95_ms: percentile(jobMs, 95),
    raw_run_p50_ms: percentile(rawMs, 50),
    raw_run_p95_ms: percentile(rawMs, 95),
    ratio_one_step: Math.round((percentile(jobMs, 50) / percentile(rawMs, 50)) * 100) / 100,
    first_step_start_p50_ms: percentile(firstStepMs, 50),
    first_step_start_p95_ms: percentile(firstStepMs, 95),
    dag10_overhead_ms: percentile(dagOverhead, 50),
    dag10_overhead_p95_ms: percentile(dagOverhead, 95),
    dag10_critical_path_ms: criticalPathMs,
    ...large,
    step_slots: stepSlots(process.env),
    engine: 'warm pool (each engine with NESTOR_STEP_SLOTS containers of the step image started ahead), isolation auto, step image shared from the host',
  };
}
