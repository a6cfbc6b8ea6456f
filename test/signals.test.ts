import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { hostname } from 'node:os';
import { hostEngine, NESTOR, ROOT } from './helpers.ts';
import { tempDir } from './server/harness.ts';
import { freePort } from './server/processes.ts';
import { LABEL_OWNER_HOST, LABEL_OWNER_PID } from '../src/engine/ownership.ts';

const host = await hostEngine();

/** Containers, networks and volumes on the host engine that a process of this host with `pid` made. */
async function leftBy(pid: number): Promise<string[]> {
  const filters = JSON.stringify({ label: [`${LABEL_OWNER_PID}=${pid}`, `${LABEL_OWNER_HOST}=${hostname()}`] });
  const [c, n, v] = await Promise.all([host.docker.listContainers({ all: true, filters }), host.docker.listNetworks({ filters }), host.docker.listVolumes({ filters })]);
  return [...c.map((x) => `container ${x.Names[0]}`), ...n.map((x) => `network ${x.Name}`), ...(v.Volumes ?? []).map((x) => `volume ${x.Name}`)];
}

/**
 * Starts `nestor ARGS`, sends `signal` after `afterMs`, and answers how long it took to exit
 * and what it left on the engine (checked again a moment later: a create in flight when the
 * process died would appear only then).
 */
async function interrupt(args: string[], afterMs: number, signal: NodeJS.Signals = 'SIGTERM') {
  const child = spawn(NESTOR, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NESTOR_LOG_LEVEL: 'warn' } });
  let output = '';
  child.stdout.on('data', (b: Buffer) => (output += b));
  child.stderr.on('data', (b: Buffer) => (output += b));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise((r) => setTimeout(r, afterMs));
  const sent = Date.now();
  child.kill(signal);
  const inTime = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 10_000))]);
  const exitMs = Date.now() - sent;
  if (!inTime) {
    child.kill('SIGKILL');
    await exited;
  }
  await new Promise((r) => setTimeout(r, 1500));
  return { inTime, exitMs, left: await leftBy(child.pid!), output, pid: child.pid! };
}

for (const afterMs of [0, 300, 1000, 2000, 4000, 7000]) {
  test(`nestor up stopped by SIGTERM ${afterMs} ms after start exits within 10 s and leaves nothing`, { timeout: 60_000 }, async () => {
    const r = await interrupt(['up', '--port', String(await freePort()), '--data-dir', tempDir()], afterMs);
    assert.ok(r.inTime, `still running 10 s after the signal:\n${r.output}`);
    assert.deepEqual(r.left, [], `left behind after ${r.exitMs} ms:\n${r.output}`);
  });
}

for (const afterMs of [1000, 3000]) {
  test(`nestor run interrupted (SIGINT) ${afterMs} ms after start leaves nothing`, { timeout: 60_000 }, async () => {
    const r = await interrupt(['run', '-C', `${ROOT}examples/cancel`], afterMs, 'SIGINT');
    assert.ok(r.inTime, `still running 10 s after the signal:\n${r.output}`);
    assert.deepEqual(r.left, [], r.output);
  });
}

test('nestor server and nestor runner stopped by SIGTERM mid-start leave nothing', { timeout: 90_000 }, async () => {
  const port = await freePort();
  const server = await interrupt(['server', '--port', String(port), '--data-dir', tempDir()], 1500);
  assert.ok(server.inTime, server.output);
  assert.deepEqual(server.left, [], server.output);
  // A runner whose server never answers is still stopped at once, with its warm engine gone.
  const runner = await interrupt(['runner', '--server', `http://127.0.0.1:${await freePort()}`, '--token', 'nst_reg_none', '--warm', '1'], 2500);
  assert.ok(runner.inTime, runner.output);
  assert.ok(runner.exitMs < 10_000);
  assert.deepEqual(runner.left, [], runner.output);
});

test('nestor run killed outright (SIGKILL) mid-job: the next nestor run removes what it left, and says so', { timeout: 90_000 }, async () => {
  const r = await interrupt(['run', '-C', `${ROOT}examples/cancel`], 4000, 'SIGKILL');
  assert.ok(r.left.length > 0, `a killed run cannot clean up, so something is left:\n${r.output}`);
  const next = spawn(NESTOR, ['run', '-C', `${ROOT}examples/failure-ignore`], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  next.stdout.on('data', (b: Buffer) => (output += b));
  next.stderr.on('data', (b: Buffer) => (output += b));
  await new Promise<void>((resolve) => next.once('exit', () => resolve()));
  assert.match(output, /removed \d+ container\(s\) left by a Nestor process that is gone/);
  assert.deepEqual(await leftBy(r.pid), [], output);
});

test('nestor run whose output pipe closes (2>&1 | a reader that exits) cancels and leaves nothing', { timeout: 90_000 }, async () => {
  const child = spawn('sh', ['-c', `"${NESTOR}" run -C "${ROOT}examples/cancel" 2>&1 | true`], { stdio: 'ignore' });
  const pids = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await pids;
  // The run notices the closed pipe at the next line it writes, cancels, and removes its engine.
  const deadline = Date.now() + 30_000;
  let left: string[] = [];
  do {
    await new Promise((r) => setTimeout(r, 1000));
    const all = await host.docker.listContainers({ all: true, filters: JSON.stringify({ label: ['dev.nestor.role=engine', `${LABEL_OWNER_HOST}=${hostname()}`] }) });
    left = all.map((c) => c.Names[0]!);
  } while (left.length && Date.now() < deadline);
  assert.deepEqual(left, []);
});
