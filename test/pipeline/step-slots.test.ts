import { test } from 'node:test';
import assert from 'node:assert/strict';
import { EnginePool } from '../../src/engine/pool.ts';
import { ImageSupply } from '../../src/engine/images/supply.ts';
import { compile } from '../../src/pipeline/compile.ts';
import { readPipelines } from '../../src/pipeline/load.ts';
import { executeJob } from '../../src/runner/execute-job.ts';
import { prepareStepSlots } from '../../src/backend/docker/step-slot.ts';
import type { LogLine } from '../../src/scheduler/results.ts';
import { hostEngine } from '../helpers.ts';

// Steps run in containers started ahead (a warm engine's slots, or armed while their
// dependencies run): they must behave as if each had been started for it alone.
const IMAGE = 'busybox:latest';
const host = await hostEngine();
const supply = await ImageSupply.start(host);
const pool = new EnginePool({
  size: 1,
  engine: { host, isolation: 'auto', daemon: supply.daemonOptions(), images: [IMAGE] },
  prepare: (engine) => prepareStepSlots(engine, IMAGE, 2),
});
await pool.start();
test.after(async () => {
  await pool.close();
  await supply.close();
});

function planOf(text: string, secrets: string[]) {
  const opts = { defaultImage: IMAGE, branch: 'main', event: 'push', secrets };
  const [{ config, source }] = readPipelines('.nestor.yml', text, opts) as [ReturnType<typeof readPipelines>[number]];
  return compile(config, source, opts)[0]!;
}

async function run(text: string, secrets: Record<string, string> = {}) {
  // A warm engine, with its slots (one started cold has none).
  while (pool.available === 0) await new Promise((r) => setTimeout(r, 20));
  const engine = await pool.acquire();
  const lines: LogLine[] = [];
  try {
    const result = await executeJob(planOf(text, Object.keys(secrets)), engine, { onLog: (l) => lines.push(l), secrets });
    const names = (await engine.docker.listContainers({ all: true })).map((c) => c.Names[0]!.slice(1));
    return { result, lines, names, text: (step: string) => lines.filter((l) => l.source === step).map((l) => l.text) };
  } finally {
    await pool.release(engine);
  }
}

test('a step in a slot gets its own environment, directory and masked secrets, and its exit code', async () => {
  const r = await run(
    [
      'steps:',
      '  first:',
      '    environment: { GREETING: "hello there" }',
      '    secrets: [TOKEN]',
      '    working_dir: /workspace/sub',
      '    commands: [\'echo "$GREETING from $(pwd) with $TOKEN"\', \'exit 3\']',
      '    failure: ignore',
    ].join('\n'),
    { TOKEN: 's3cr3t-value' },
  );
  assert.equal(r.result.status, 'success', JSON.stringify(r.result));
  assert.deepEqual(r.result.steps.map((s) => [s.status, s.exitCode]), [['ignored', 3]]);
  assert.ok(r.text('first').includes('hello there from /workspace/sub with ********'), r.text('first').join('\n'));
  assert.ok(!r.lines.some((l) => l.text.includes('s3cr3t-value')));
  assert.ok(!r.names.some((n) => n.endsWith('-first')), `the step ran in a slot, not a container of its own: ${r.names}`);
});

test('each step has a container to itself: only the workspace is shared', async () => {
  const steps = ['a', 'b', 'c', 'd'];
  const r = await run(
    `steps:\n${steps
      .map((s, i) => `  ${s}:\n    commands: ['ls /tmp', 'touch /tmp/${s} ${s}.done', 'ls /workspace']\n${i ? `    depends_on: [${steps[i - 1]}]\n` : ''}`)
      .join('')}`,
  );
  assert.equal(r.result.status, 'success', JSON.stringify(r.result));
  for (const [i, s] of steps.entries()) {
    const out = r.text(s).filter((l) => !l.startsWith('+ '));
    assert.deepEqual(out, steps.slice(0, i + 1).map((x) => `${x}.done`), `step ${s} saw only the workspace of earlier steps: ${out}`);
  }
  // Two slots, then containers armed while the step before ran.
  assert.ok(r.names.some((n) => n.endsWith('-c')) && r.names.some((n) => n.endsWith('-d')), r.names.join(' '));
});

test('a step that does not fit a slot (its own volume) runs in its own container, and a skipped step runs nothing', async () => {
  const r = await run(
    [
      'steps:',
      '  cached:',
      '    volumes: [cache:/cache]',
      '    commands: [touch /cache/x, exit 1]',
      '  after:',
      '    depends_on: [cached]',
      '    commands: [echo must-not-run]',
    ].join('\n'),
  );
  assert.equal(r.result.status, 'failure');
  assert.deepEqual(r.result.steps.map((s) => s.status), ['failure', 'skipped']);
  assert.ok(r.names.some((n) => n.endsWith('-cached')), r.names.join(' '));
  assert.ok(!r.lines.some((l) => l.text === 'must-not-run'));
});

test('a step past its timeout is stopped, in a slot as in its own container', async () => {
  const t0 = performance.now();
  const r = await run('steps:\n  slow:\n    commands: [sleep 30]\n    timeout: 1s\n');
  assert.deepEqual(r.result.steps.map((s) => s.status), ['timeout']);
  assert.ok(performance.now() - t0 < 15_000);
});
