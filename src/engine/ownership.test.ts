import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, utimesSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { HEARTBEAT_STALE_MS, LABEL_OWNER_HOST, LABEL_OWNER_PID, ownerAlive, processOwner, setHeartbeatDir } from './ownership.ts';

const dir = mkdtempSync(join(tmpdir(), 'nestor-owners-test-'));
setHeartbeatDir(dir);
const self = processOwner();
const mine = JSON.parse(readFileSync(join(dir, `${self}.json`), 'utf8')) as Record<string, unknown>;

function fakeHeartbeat(fields: Record<string, unknown>, ageMs = 0): string {
  const id = Math.random().toString(16).slice(2).padEnd(32, '0').slice(0, 32);
  const file = join(dir, `${id}.json`);
  writeFileSync(file, JSON.stringify({ ...mine, id, ...fields }));
  const when = new Date(Date.now() - ageMs);
  utimesSync(file, when, when);
  return id;
}

test('this process owns what it labels, and its heartbeat names it exactly', () => {
  assert.match(self, /^[0-9a-f]{32}$/);
  assert.equal(ownerAlive(self), true);
  assert.equal(mine.pid, process.pid);
  assert.ok(mine.start && mine.pidns, 'pid start time and namespace recorded');
});

test('a process killed with -9 is known dead at once, though its heartbeat file is fresh', async () => {
  const code = `import('${new URL('./ownership.ts', import.meta.url).pathname}').then((m) => { m.setHeartbeatDir(${JSON.stringify(dir)}); console.log(m.processOwner()); setInterval(() => {}, 1000); })`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  const id = await new Promise<string>((resolve) => child.stdout.once('data', (b: Buffer) => resolve(b.toString().trim())));
  assert.equal(ownerAlive(id), true, 'alive while it runs');
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
  assert.ok(readdirSync(dir).includes(`${id}.json`), 'kill -9 leaves the heartbeat behind');
  assert.equal(ownerAlive(id), false, 'its pid no longer runs with the same start time');
});

test('a pid taken over by another process does not keep a dead owner alive', () => {
  // Our own pid, but another start time: the process that wrote the heartbeat is gone.
  assert.equal(ownerAlive(fakeHeartbeat({ start: '1' })), false);
});

test('from another pid namespace only freshness counts', () => {
  assert.equal(ownerAlive(fakeHeartbeat({ pidns: 'pid:[1]', pid: 1 })), true, 'fresh: alive');
  assert.equal(ownerAlive(fakeHeartbeat({ pidns: 'pid:[1]', pid: 1 }, HEARTBEAT_STALE_MS + 5000)), false, 'stale: dead');
});

test('with no heartbeat in sight, only a dead pid on this very host is evidence', () => {
  const unseen = 'ab'.repeat(16);
  assert.equal(ownerAlive(unseen, { [LABEL_OWNER_HOST]: 'elsewhere', [LABEL_OWNER_PID]: '1' }), true, 'another host: not ours to judge');
  assert.equal(ownerAlive(unseen, { [LABEL_OWNER_HOST]: hostname(), [LABEL_OWNER_PID]: String(process.pid) }), true);
  assert.equal(ownerAlive(unseen, { [LABEL_OWNER_HOST]: hostname(), [LABEL_OWNER_PID]: '999999999' }), false);
});

test('labels written by earlier versions (hostname:pid) are still judged', () => {
  assert.equal(ownerAlive(`${hostname()}:${process.pid}`), true);
  assert.equal(ownerAlive(`${hostname()}:999999999`), false);
  assert.equal(ownerAlive('other-host:1'), true);
});
