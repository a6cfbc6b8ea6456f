import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Backend } from '../backend/backend.ts';
import { compileText } from '../pipeline/load.ts';
import { jobRuns } from '../pipeline/github/step-runtime.ts';
import { earlierOf, jobOfPipeline } from './agent.ts';
import { neededJobs, runPlans } from './run-plans.ts';

/**
 * A job of a server's pipeline runs alone on its runner; the jobs it needs ran elsewhere and
 * the lease says how they ended. `earlier` gives those outcomes to `needs.*` as if they had run
 * here, matrix combinations folded into their GitHub job. No Docker: only plans and results.
 */
const WORKFLOW = readFileSync(new URL('../../test/fixtures/github-server/needs.yml', import.meta.url), 'utf8');

const all = compileText({ text: WORKFLOW, file: '.github/workflows/ci.yml' }, { defaultImage: 'alpine', event: 'push' });
const alone = (name: string) => jobOfPipeline(all, name)[0]!;

test("a job run alone reads the needs it was leased with: the job's result and outputs, by GitHub job id", () => {
  assert.deepEqual(all.map((p) => p.name), ['prepare', 'test (20)', 'test (22)', 'report']);
  const test20 = alone('test (20)');
  const earlier = earlierOf(all, [{ name: 'prepare', status: 'success', outputs: { version: '1.2.3' } }]);
  const needs = neededJobs(test20, [test20], new Map(), earlier);
  assert.deepEqual(needs, { prepare: { result: 'success', outputs: { version: '1.2.3' } } });
  assert.equal(jobRuns(test20.github!, needs, {}), true, "its if: over needs.prepare.outputs passes");
  // Without them (the runner of before), the version is empty and the job's if: is false.
  const none = neededJobs(test20, [test20], new Map());
  assert.deepEqual(none, { prepare: { result: 'success', outputs: {} } });
  assert.equal(jobRuns(test20.github!, none, {}), false);
});

test("a matrix job's combinations that ran elsewhere are one need: failed if one failed, outputs of each", () => {
  const report = alone('report');
  const earlier = earlierOf(all, [
    { name: 'test (20)', status: 'success', outputs: { a: '1' } },
    { name: 'test (22)', status: 'failure', outputs: { b: '2' } },
  ]);
  assert.deepEqual(neededJobs(report, [report], new Map(), earlier), { test: { result: 'failure', outputs: { a: '1', b: '2' } } });
  const skipped = earlierOf(all, [
    { name: 'test (20)', status: 'skipped', outputs: {} },
    { name: 'test (22)', status: 'skipped', outputs: {} },
  ]);
  assert.deepEqual(neededJobs(report, [report], new Map(), skipped), { test: { result: 'skipped', outputs: {} } });
  // A job run here wins over the same name from elsewhere.
  const here = new Map([['test (22)', { name: 'test (22)', status: 'success' as const, steps: [], durationMs: 1, engine: 'e', outputs: { b: '3' } }]]);
  assert.deepEqual(neededJobs(report, [report], here, earlier), { test: { result: 'success', outputs: { a: '1', b: '3' } } });
});

test('a lease with no needs gives runPlans nothing earlier', () => {
  assert.equal(earlierOf(all, undefined), undefined);
  assert.equal(earlierOf(all, []), undefined);
});

test("runPlans answers a job's if: with the earlier jobs it is given", async () => {
  // A backend that fails whatever is asked of it: reaching it means the job's if: let it run.
  const backend = new Proxy({}, { get: (_t, key) => { if (key === 'then') return undefined; throw new Error(`the backend was asked for ${String(key)}`); } }) as Backend;
  const run = async (version: string) => (await runPlans(jobOfPipeline(all, 'test (22)'), { backend, parallel: 1, onLog: () => undefined, earlier: earlierOf(all, [{ name: 'prepare', status: 'success', outputs: { version } }])! }))[0]!;
  const passed = await run('1.2.3');
  assert.equal(passed.status, 'failure');
  assert.match(passed.error ?? '', /the backend was asked for/, 'with a version it went on to make its job');
  const empty = await run('');
  assert.equal(empty.status, 'skipped');
  assert.match(empty.notRunBecause ?? '', /its if: needs\.prepare\.outputs\.version != '' is false/);
});

const DYNAMIC = readFileSync(new URL('../../test/fixtures/github-server/matrix-from-needs.yml', import.meta.url), 'utf8');

test('a job whose matrix is over its needs\' outputs runs as the combinations they give, compiled again once they ended; bad outputs fail it, saying why', async () => {
  const compile = (needs?: Parameters<NonNullable<Parameters<typeof runPlans>[1]['expand']>>[0]) => compileText({ text: DYNAMIC, file: '.github/workflows/ci.yml' }, { defaultImage: 'alpine', event: 'push', ...(needs ? { needs } : {}) });
  const plans = compile();
  assert.deepEqual(plans.map((p) => [p.name, p.github?.matrixFromNeeds]), [['plan', undefined], ['build (linux)', '${{ fromJSON(needs.plan.outputs.packages) }}'], ['after', undefined]]);
  // Each combination reaches the backend (which refuses it): what is under test is which ones run.
  const backend = new Proxy({}, { get: (_t, key) => { if (key === 'then') return undefined; throw new Error(`the backend was asked for ${String(key)}`); } }) as Backend;
  const notices: string[] = [];
  const run = (packages: string, expand = true) => runPlans(jobOfPipeline(plans, 'build (linux)'), {
    backend, parallel: 2, onLog: () => undefined, onEvent: (e) => e.type === 'notice' && notices.push(e.text),
    earlier: earlierOf(plans, [{ name: 'plan', status: 'success', outputs: { packages } }])!,
    ...(expand ? { expand: (needs) => compile(needs) } : {}),
  });
  const ran = await run('["core","cli"]');
  assert.deepEqual(ran.map((r) => r.name), ['build (core, linux)', 'build (cli, linux)']);
  assert.ok(notices.some((n) => /matrix from the outputs of plan: build \(core, linux\), build \(cli, linux\)/.test(n)), notices.join('\n'));
  const bad = await run('not json');
  assert.deepEqual(bad.map((r) => [r.name, r.status]), [['build (linux)', 'failure']]);
  assert.match(bad[0]!.error!, /gave no matrix from the outputs of plan .*not json.*it must give an object of axes/);
  const cannot = await run('["core"]', false);
  assert.match(cannot[0]!.error!, /this run cannot compile the file again/);
});
