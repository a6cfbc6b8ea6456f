import { test } from 'node:test';
import assert from 'node:assert/strict';
import { container, MemoryBackend } from '../backend/memory-backend.ts';
import type { JobPlan, PlanStep } from '../pipeline/plan.ts';
import type { JobEvent, LogLine } from './results.ts';
import { runJob } from './scheduler.ts';

// The scheduler on an in-memory backend: pure logic, no Docker. A container's script is the
// memory backend's little language (echo, exit N, sleep MS, wait).

function step(name: string, script: string, more: Partial<PlanStep> = {}): PlanStep {
  return {
    ...container(name, script),
    dependsOn: [],
    runOn: ['success'],
    timeoutMs: 60_000,
    ignoreFailure: false,
    detach: false,
    ...more,
  };
}

function plan(steps: PlanStep[], more: Partial<JobPlan> = {}): JobPlan {
  return { name: 'job', pipeline: 'p', matrix: {}, workspace: '/workspace', steps, services: [], volumes: [], images: ['busybox:latest'], engineAliases: [], copySource: false, notices: [], ...more };
}

async function run(p: JobPlan, opts: { secrets?: Record<string, string>; signal?: AbortSignal } = {}) {
  const backend = new MemoryBackend();
  const order: string[] = [];
  const lines: LogLine[] = [];
  const notices: string[] = [];
  const onEvent = (e: JobEvent) => {
    if (e.type === 'notice') notices.push(e.text);
    else if (e.step.status === 'running') order.push(`start ${e.step.name}`);
    else order.push(`${e.step.status} ${e.step.name}`);
  };
  const result = await runJob(p, backend, { ...opts, onLog: (l) => lines.push(l), onEvent });
  return { result, order, lines, notices, calls: backend.calls, status: (name: string) => result.steps.find((s) => s.name === name)?.status };
}

test('a diamond runs its two middle steps side by side, and its last only after both', async () => {
  const r = await run(plan([step('a', 'echo a'), step('b', 'sleep 40', { dependsOn: ['a'] }), step('c', 'sleep 20', { dependsOn: ['a'] }), step('d', 'echo d', { dependsOn: ['b', 'c'] })]));
  assert.equal(r.result.status, 'success', JSON.stringify(r.result));
  const at = (e: string) => r.order.indexOf(e);
  assert.ok(at('success a') < at('start b') && at('success a') < at('start c'), r.order.join(', '));
  assert.ok(at('start b') < at('success c') && at('start c') < at('success b'), `b and c overlap: ${r.order.join(', ')}`);
  assert.ok(at('start d') > at('success b') && at('start d') > at('success c'), r.order.join(', '));
  assert.deepEqual(r.calls.at(0), 'setup job');
  assert.deepEqual(r.calls.at(-1), 'teardown job');
  assert.ok(r.calls.includes('prepare d'), `d is readied ahead while b and c run: ${r.calls.join(', ')}`);
});

test('a failing step skips what depends on it, and a step that runs on failure still runs', async () => {
  const r = await run(plan([step('a', 'exit 2'), step('b', 'echo never', { dependsOn: ['a'] }), step('report', 'echo failed', { dependsOn: ['a'], runOn: ['failure'] })]));
  assert.equal(r.result.status, 'failure');
  assert.deepEqual(r.result.steps.map((s) => [s.name, s.status, s.reason]), [
    ['a', 'failure', 'exit code 2'],
    ['b', 'skipped', 'an earlier step failed'],
    ['report', 'success', undefined],
  ]);
  assert.equal(r.result.steps[0]!.exitCode, 2);
  assert.ok(!r.lines.some((l) => l.text === 'never'));
  assert.ok(!r.calls.includes('step b') && (!r.calls.includes('prepare b') || r.calls.includes('discard b')), r.calls.join(', '));
});

test("a step that may run after a failure is told the job's status as it starts, and is not made ahead", async () => {
  const statusEnvironment = { success: { DRONE_BUILD_STATUS: 'success' }, failure: { DRONE_BUILD_STATUS: 'failure' } };
  const notify = (deps: string[]) => step('notify', 'echo build $DRONE_BUILD_STATUS', { dependsOn: deps, runOn: ['success', 'failure'], statusEnvironment });
  const failed = await run(plan([step('a', 'exit 1'), notify(['a'])]));
  assert.ok(failed.lines.some((l) => l.text === 'build failure'), JSON.stringify(failed.lines));
  const passed = await run(plan([step('a', 'sleep 20'), notify(['a'])]));
  assert.ok(passed.lines.some((l) => l.text === 'build success'), JSON.stringify(passed.lines));
  assert.ok(!passed.calls.includes('prepare notify'), passed.calls.join(', '));
});

test('failure: ignore lets the next step run and the job pass', async () => {
  const r = await run(plan([step('lint', 'exit 3', { ignoreFailure: true }), step('build', 'echo built', { dependsOn: ['lint'] })]));
  assert.equal(r.result.status, 'success');
  assert.deepEqual(r.result.steps.map((s) => [s.status, s.exitCode]), [['ignored', 3], ['success', 0]]);
  assert.ok(r.lines.some((l) => l.source === 'build' && l.text === 'built'));
});

test('a cancel mid-step stops it at once, skips the rest as cancelled, and tears the job down', async () => {
  const controller = new AbortController();
  setTimeout(() => controller.abort(), 30);
  const t0 = performance.now();
  const r = await run(plan([step('long', 'echo started\nwait'), step('after', 'echo never', { dependsOn: ['long'] })]), { signal: controller.signal });
  assert.ok(performance.now() - t0 < 900, `cancelled in ${Math.round(performance.now() - t0)} ms`);
  assert.equal(r.result.status, 'cancelled');
  assert.deepEqual(r.result.steps.map((s) => s.status), ['cancelled', 'cancelled']);
  assert.deepEqual(r.calls.filter((c) => c.startsWith('teardown')), ['teardown job'], 'torn down once, at the cancel');
  assert.ok(!r.calls.includes('step after'), r.calls.join(', '));
});

test('a step past its timeout is stopped and reported as such; the job fails', async () => {
  const r = await run(plan([step('slow', 'wait', { timeoutMs: 30 }), step('next', 'echo never', { dependsOn: ['slow'] })]));
  assert.equal(r.result.status, 'failure');
  assert.deepEqual(r.result.steps.map((s) => [s.status, s.reason]), [['timeout', 'did not finish within 0.03 s'], ['skipped', 'an earlier step failed']]);
});

test('a detached step and a service run until the job ends, and are torn down with it', async () => {
  const backend = new MemoryBackend();
  const services = [{ ...step('db', 'echo db up\nwait'), aliases: ['postgres'], ports: [5432] }];
  const p = plan([step('server', 'echo serving\nwait', { detach: true }), step('client', 'sleep 10\necho asked', { dependsOn: ['server'] })], { services });
  const lines: LogLine[] = [];
  const result = await runJob(p, backend, { onLog: (l) => lines.push(l) });
  assert.equal(result.status, 'success', JSON.stringify(result));
  assert.deepEqual(result.steps.map((s) => [s.status, s.reason]), [['success', 'detached: runs until the job ends'], ['success', undefined]]);
  assert.deepEqual(backend.calls.slice(0, 3), ['setup job', 'service db', 'step server'], backend.calls.join(', '));
  assert.equal(backend.calls.at(-1), 'teardown job');
  assert.ok(lines.some((l) => l.source === 'service:db' && l.text === 'db up'));
  assert.ok(lines.some((l) => l.source === 'server' && l.text === 'serving'));
});

test('secrets are masked in every line, above the backend', async () => {
  const r = await run(plan([step('leak', 'echo token=s3cr3t-value\necho s3cr3t-value >&2')]), { secrets: { TOKEN: 's3cr3t-value' } });
  assert.deepEqual(r.lines.map((l) => [l.stream, l.text]), [['stdout', 'token=********'], ['stderr', '********']]);
});

test("a service's log lines carry the job's name, as its steps' do", async () => {
  const svc = { ...container('db', 'echo ready'), aliases: [], ports: [] };
  const r = await run(plan([step('a', 'echo a')], { services: [svc] as unknown as JobPlan['services'] }));
  const lines = r.lines.filter((l) => l.source === 'service:db');
  assert.ok(lines.length > 0 && lines.every((l) => l.job === 'job'), JSON.stringify(r.lines));
});
