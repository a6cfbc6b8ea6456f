import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { hostEngine, nestor, objectsOf, ROOT } from './helpers.ts';

const host = await hostEngine();

test('after kill -9 of a process holding engines, `nestor engine cleanup` leaves nothing of them', async () => {
  const child = spawn(`${ROOT}node_modules/.bin/node`, [`${ROOT}test/fixtures/hold-engines.ts`], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`holder exited early with ${code}`)));
  });
  const names = JSON.parse(line) as string[];
  for (const n of names) assert.ok((await objectsOf(host, n)) >= 2, `engine ${n} has its container and network`);
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));

  const r = await nestor(['engine', 'cleanup', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const removed = JSON.parse(r.stdout) as { containers: string[]; volumes: string[] };
  assert.ok(removed.volumes.some((v) => v.includes(names[1]!)), 'the volume-backed engine\'s storage was removed');
  for (const n of names) assert.equal(await objectsOf(host, n), 0, `nothing of ${n} remains`);
});

test('engine start, status, test and stop work as a named-engine workflow', async () => {
  const name = `clitest${process.pid}`;
  try {
    const start = await nestor(['engine', 'start', name, '--isolation', 'dind-caps', '--memory', '1024', '--json']);
    assert.equal(start.code, 0, start.stderr);
    const started = JSON.parse(start.stdout) as { env: Record<string, string>; isolation: string };
    assert.equal(started.isolation, 'dind-caps');
    assert.equal(started.env.DOCKER_TLS_VERIFY, '1');

    const again = await nestor(['engine', 'start', name]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /exists already[\s\S]*nestor engine restart/);

    const status = await nestor(['engine', 'status', name, '--json']);
    assert.equal(status.code, 0, status.stderr);
    assert.equal((JSON.parse(status.stdout) as { healthy: boolean }).healthy, true);

    const selfTest = await nestor(['engine', 'test', name, '--json']);
    assert.equal(selfTest.code, 0, selfTest.stdout + selfTest.stderr);
    const checks = (JSON.parse(selfTest.stdout) as { checks: { name: string; ok: boolean }[] }).checks;
    assert.deepEqual(checks.map((c) => c.ok), [true, true, true, true]);
  } finally {
    const stop = await nestor(['engine', 'stop', name]);
    assert.equal(stop.code, 0, stop.stderr);
  }
  assert.equal(await objectsOf(host, name), 0);
});

test('an unreachable engine exits 3 and says what to do', async () => {
  const r = await nestor(['engine', 'status'], { ...process.env, DOCKER_HOST: 'unix:///tmp/nestor-absent.sock' });
  assert.equal(r.code, 3);
  assert.match(r.stderr, /Cannot connect to the Docker daemon at unix:\/\/\/tmp\/nestor-absent.sock/);
  assert.match(r.stderr, /→ .*dockerd/);
});

test('an unknown isolation mode is a usage error (exit 2) naming the choices', async () => {
  const r = await nestor(['engine', 'start', 'x', '--isolation', 'vm']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /Allowed choices are auto, socket, dind, dind-caps/);
});
