// A job's stored log is capped per attempt (AppOptions.logCapBytes): the log is kept up to the
// cap, what passes it is counted, and the log says so.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { buildApp } from '../../src/server/app.ts';
import { Store } from '../../src/server/store/store.ts';
import { STORES, resetPostgres } from './harness.ts';

const line = (text: string) => ({ source: 'step', stream: 'stdout' as const, time: Date.now(), text });

for (const kind of STORES) {
  test(`[${kind}] past the log cap lines are counted, not kept, and the log's last line says how many`, async () => {
    const store = await Store.open(kind === 'postgres' ? { databaseUrl: await resetPostgres() } : {});
    const { app } = await buildApp({ store, logger: pino({ level: 'silent' }), leaseMs: 30_000, logCapBytes: 1000 });
    after(async () => {
      await app.close();
      await store.close();
    });
    const runnerToken = await store.addToken('runner', 'r');
    await store.registerRunner({ name: 'r', type: 'docker', host: 'h', port: 0, capabilities: [], labels: [], metadata: {}, maxJobs: 1 });
    const job = await store.createJob({ name: 'loud', spec: {}, maxAttempts: 2 });
    const call = async (path: string, body: unknown) => {
      const r = await app.inject({ method: 'POST', url: path, headers: { authorization: `Bearer ${runnerToken}` }, payload: body as Record<string, unknown> });
      return { status: r.statusCode, body: r.json<Record<string, unknown>>() };
    };
    const lease = (await call('/api/runner/lease', { wait_ms: 0 })).body.lease as { token: string };
    const texts = Array.from({ length: 15 }, (_, i) => `${i}`.padEnd(100, '.'));
    const send = (from: number, to: number) => call(`/api/runner/jobs/${job.id}/logs`, { lease: lease.token, lines: texts.slice(from, to).map(line) });
    assert.deepEqual((await send(0, 8)).body, { seq: 8, cap_reached: false });
    assert.deepEqual((await send(8, 12)).body, { seq: 11, cap_reached: true }, 'two lines fit, two are counted, one line says the cap is reached');
    assert.equal((await send(12, 15)).body.cap_reached, true);
    // The runner counted five more lines itself once it was told.
    const done = await call(`/api/runner/jobs/${job.id}/complete`, { lease: lease.token, status: 'succeeded', log_not_kept: { lines: 5, bytes: 500 } });
    assert.equal(done.status, 200);
    const logs = await store.logsAfter(job.id, 0, 100);
    assert.deepEqual(logs.filter((l) => l.source === 'step').map((l) => l.text), texts.slice(0, 10), 'the log is whole up to the cap');
    assert.match(logs[10]!.text, /^log cap reached: 1\.0 kB of this attempt's log is kept/);
    assert.equal(logs.at(-1)!.text, 'log cap reached: 10 lines / 1000 bytes (1.0 kB) not kept');
    assert.equal(logs.length, 12);
    assert.equal((await store.job(job.id))!.status, 'succeeded');
  });

  test(`[${kind}] the cap is per attempt: a retried job's new attempt is logged again`, async () => {
    const store = await Store.open(kind === 'postgres' ? { databaseUrl: await resetPostgres() } : {});
    after(() => store.close());
    const runner = await store.registerRunner({ name: 'r', type: 'docker', host: 'h', port: 0, capabilities: [], labels: [], metadata: {}, maxJobs: 1 });
    const job = await store.createJob({ name: 'again', spec: {}, maxAttempts: 2 });
    const first = (await store.lease(runner, 1000))!;
    assert.equal((await store.appendLogs(job.id, 'r', first.token, [line('x'.repeat(60)), line('y'.repeat(60))], 100)).capReached, true);
    await store.expireLeases(Date.now() + 5000);
    const second = (await store.lease(runner, 1000))!;
    const appended = await store.appendLogs(job.id, 'r', second.token, [line('z'.repeat(60)), line('a NUL\0, which PostgreSQL text cannot hold')], 200);
    assert.equal(appended.capReached, false);
    const logs = await store.logsAfter(job.id, 0);
    assert.deepEqual(logs.map((l) => [l.attempt, l.text[0]]), [[1, 'x'], [1, 'l'], [2, 'z'], [2, 'a']]);
    assert.equal(logs[3]!.text, 'a NUL\uFFFD, which PostgreSQL text cannot hold');
  });
}
