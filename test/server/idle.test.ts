import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, tempDir } from './harness.ts';
import { freePort, startRunnerProcess, startServerProcess, waitForJob, type Proc } from './processes.ts';

/** The JSON log lines a process wrote since `from` (an offset into its output). */
function logLines(proc: Proc, from = 0): { level: number; msg: string; url?: string; time: number }[] {
  return proc
    .output()
    .slice(from)
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as { level: number; msg: string; url?: string; time: number });
}

const DEBUG_JSON = { NESTOR_LOG_LEVEL: 'debug', NESTOR_LOG_FORMAT: 'json' };

test('an idle runner holds one long-poll at a time, and an idle server logs nothing at info', { timeout: 90_000 }, async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = await startServerProcess(port, tempDir(), { ...DEBUG_JSON, NESTOR_LEASE_SECONDS: '30' });
  let runner: Proc | undefined;
  try {
    runner = await startRunnerProcess(url, 'idle', { NESTOR_LOG_FORMAT: 'json' });
    // Let start-up settle (registration, the first poll), then watch 5 s of rest.
    await new Promise((r) => setTimeout(r, 1000));
    const serverFrom = server.output().length;
    const runnerFrom = runner.output().length;
    await new Promise((r) => setTimeout(r, 5000));
    const requests = logLines(server, serverFrom).filter((l) => l.msg === 'request' && l.url === '/api/runner/lease');
    assert.ok(requests.length <= 2, `an idle runner sent ${requests.length} lease requests in 5 s (the poll is held 20 s)`);
    const chatter = [...logLines(server, serverFrom), ...logLines(runner, runnerFrom)].filter((l) => l.level >= 30);
    assert.deepEqual(chatter.map((l) => l.msg), [], 'nothing is logged at info or above while idle');
  } finally {
    await runner?.stop();
    await server.stop();
  }
});

test('a job submitted while the runner waits in a long-poll is leased at once, not at the end of the poll', { timeout: 90_000 }, async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = await startServerProcess(port, tempDir());
  let runner: Proc | undefined;
  try {
    runner = await startRunnerProcess(url, 'waiting');
    await new Promise((r) => setTimeout(r, 1500)); // well inside the runner's 20 s poll
    const submitted = await api<{ id: string }>(url, 'POST', '/api/jobs', { name: 'quick', steps: [{ name: 'hi', run: 'echo hi' }] });
    assert.equal(submitted.status, 201);
    const job = await waitForJob(url, submitted.body.id, 10_000, (j) => j.started_at !== null);
    const waitedMs = Date.parse(String(job.started_at)) - Date.parse(String(job.created_at));
    assert.ok(waitedMs < 1000, `leased ${waitedMs} ms after submission`);
    const done = await waitForJob(url, submitted.body.id, 60_000);
    assert.equal(done.status, 'succeeded');
  } finally {
    await runner?.stop();
    await server.stop();
  }
});

test('a runner whose server is away backs off with jitter instead of hammering it', { timeout: 60_000 }, async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = await startServerProcess(port, tempDir());
  let runner: Proc | undefined;
  try {
    runner = await startRunnerProcess(url, 'patient', { NESTOR_LOG_FORMAT: 'json' });
    await server.stop();
    const from = runner.output().length;
    await new Promise((r) => setTimeout(r, 6000));
    const retries = logLines(runner, from).filter((l) => l.msg === 'server unreachable; retrying');
    // 250 ms doubling to 10 s: at most about five tries in 6 s, and never in lock-step.
    assert.ok(retries.length >= 2 && retries.length <= 6, `${retries.length} retries in 6 s`);
    const waits = retries.map((l) => (l as unknown as { retryInMs: number }).retryInMs);
    assert.ok(waits.every((w, i) => i === 0 || w > waits[i - 1]! * 1.2), `back-off grows: ${waits.join(', ')} ms`);
  } finally {
    await runner?.stop();
  }
});

test('at info a job is three lines (queued, started, finished with its duration); --log-format pretty is for people', { timeout: 90_000 }, async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = await startServerProcess(port, tempDir(), { NESTOR_LOG_FORMAT: 'json' });
  let runner: Proc | undefined;
  try {
    runner = await startRunnerProcess(url, 'events', { NESTOR_LOG_FORMAT: 'pretty' });
    const from = server.output().length;
    const submitted = await api<{ id: string }>(url, 'POST', '/api/jobs', { name: 'told', steps: [{ name: 'hi', run: 'echo hi' }] });
    const done = await waitForJob(url, submitted.body.id, 60_000);
    assert.equal(done.status, 'succeeded');
    await new Promise((r) => setTimeout(r, 300));
    const events = logLines(server, from).filter((l) => l.level >= 30) as unknown as { msg: string; job?: string; durationMs?: number; status?: string }[];
    assert.deepEqual(events.map((e) => e.msg), ['job queued', 'job started', 'job finished']);
    assert.ok(events.every((e) => e.job === submitted.body.id));
    assert.equal(events[2]!.status, 'succeeded');
    assert.ok(typeof events[2]!.durationMs === 'number');
    // The runner's own lines, pretty-printed: a level word and the message, no JSON.
    assert.match(runner.output(), /INFO.*job started/);
    assert.match(runner.output(), /INFO.*job finished/);
    assert.ok(!runner.output().split('\n').some((l) => l.startsWith('{"level"')), 'no JSON lines in pretty format');
  } finally {
    await runner?.stop();
    await server.stop();
  }
});
