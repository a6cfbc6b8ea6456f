// Issue 13, item 3: the runner protocol is bound to its runner. A second registered runner's
// forged log, heartbeat and complete calls for the first one's job are refused and change nothing.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, REGISTRATION, STORES, testServer } from '../server/harness.ts';

type Leased = { job: { id: string }; lease: { token: string } };
type Problem = { code: string; hint: string; detail: string };

for (const kind of STORES) {
  test(`[${kind}] another runner's log, heartbeat and complete calls get 403 and change nothing`, async () => {
    const server = await testServer(kind);
    after(() => server.close());
    const url = server.url;
    const a = (await api<{ token: string }>(url, 'POST', '/api/runners/register', { name: 'runner-a', max_jobs: 2 }, REGISTRATION)).body.token;
    const b = (await api<{ token: string }>(url, 'POST', '/api/runners/register', { name: 'runner-b', max_jobs: 2 }, REGISTRATION)).body.token;
    const submitted = await api<{ id: string }>(url, 'POST', '/api/jobs', { name: 'victim', runner: 'runner-a', steps: [{ name: 's', run: 'true' }] });
    const leased = await api<Leased>(url, 'POST', '/api/runner/lease', { wait_ms: 0 }, a);
    assert.equal(leased.status, 200);
    const id = leased.body.job.id;
    assert.equal(id, submitted.body.id);
    const token = leased.body.lease.token;
    assert.match(token, /^[0-9a-f]{32}$/, 'the lease token is 128 random bits');
    const line = { source: 's', stream: 'stdout', time: Date.now(), text: 'the real line' };
    assert.equal((await api(url, 'POST', `/api/runner/jobs/${id}/logs`, { lease: token, lines: [line] }, a)).status, 200);

    const before = await server.store.job(id);
    const logsBefore = await server.store.logsAfter(id, 0);
    // B names a guess, then A's own token (as if it had leaked): neither is B's to use.
    for (const lease of ['0123456789abcdef0123456789abcdef', token]) {
      const forged = [
        await api<Problem>(url, 'POST', `/api/runner/jobs/${id}/logs`, { lease, lines: [{ ...line, text: 'forged line' }] }, b),
        await api<Problem>(url, 'POST', `/api/runner/jobs/${id}/heartbeat`, { lease }, b),
        await api<Problem>(url, 'POST', `/api/runner/jobs/${id}/complete`, { lease, status: 'succeeded', result: [{ forged: true }] }, b),
      ];
      for (const r of forged) {
        assert.equal(r.status, 403, JSON.stringify(r.body));
        assert.match(r.type, /problem\+json/);
        assert.equal(r.body.code, 'NESTOR_FORBIDDEN');
        assert.match(r.body.detail, /runner-b does not hold job/);
        assert.match(r.body.hint, /only on jobs it leased itself/);
      }
    }
    const unchanged = (await server.store.job(id))!;
    assert.deepEqual(
      [unchanged.status, unchanged.runner, unchanged.result, unchanged.leaseExpiresAt, unchanged.finishedAt],
      ['running', 'runner-a', null, before!.leaseExpiresAt, null],
      'still running, held by A, its lease not extended by B',
    );
    assert.deepEqual(await server.store.logsAfter(id, 0), logsBefore, 'no forged line');

    // A's own calls still work, and only with its token.
    const guessed = await api<Problem>(url, 'POST', `/api/runner/jobs/${id}/heartbeat`, { lease: 'ffffffffffffffffffffffffffffffff' }, a);
    assert.equal(guessed.status, 409);
    assert.equal(guessed.body.code, 'NESTOR_LEASE_LOST');
    assert.equal((await api(url, 'POST', `/api/runner/jobs/${id}/heartbeat`, { lease: token }, a)).status, 200);
    assert.equal((await api(url, 'POST', `/api/runner/jobs/${id}/complete`, { lease: token, status: 'succeeded', result: [] }, a)).status, 200);
    const done = await api<{ status: string; runner: string }>(url, 'GET', `/api/jobs/${id}`);
    assert.deepEqual([done.body.status, done.body.runner], ['succeeded', 'runner-a']);
    // A finished job takes nothing more, from anyone.
    assert.equal((await api(url, 'POST', `/api/runner/jobs/${id}/complete`, { lease: token, status: 'failed' }, a)).status, 409);
    assert.equal((await api(url, 'POST', `/api/runner/jobs/${id}/complete`, { lease: token, status: 'failed' }, b)).status, 403);
  });

  test(`[${kind}] a lease taken over is fenced: the old holder's token gets 409, a numeric token 400`, async () => {
    const server = await testServer(kind);
    after(() => server.close());
    const url = server.url;
    const a = (await api<{ token: string }>(url, 'POST', '/api/runners/register', { name: 'runner-a' }, REGISTRATION)).body.token;
    const b = (await api<{ token: string }>(url, 'POST', '/api/runners/register', { name: 'runner-b' }, REGISTRATION)).body.token;
    await api(url, 'POST', '/api/jobs', { name: 'moved', steps: [{ name: 's', run: 'true' }] });
    const first = (await api<Leased>(url, 'POST', '/api/runner/lease', { wait_ms: 0 }, a)).body;
    const id = first.job.id;
    // A stops heartbeating; the lease expires and B takes the job.
    assert.deepEqual((await server.store.expireLeases(Date.now() + 60_000)).requeued, [id]);
    const second = (await api<Leased>(url, 'POST', '/api/runner/lease', { wait_ms: 0 }, b)).body;
    assert.equal(second.job.id, id);
    assert.notEqual(second.lease.token, first.lease.token);
    for (const lease of [first.lease.token, second.lease.token]) {
      const old = await api<Problem>(url, 'POST', `/api/runner/jobs/${id}/complete`, { lease, status: 'succeeded' }, a);
      assert.equal(old.status, 409, 'A held the job once: it is told to stop, not that it never had it');
      assert.equal(old.body.code, 'NESTOR_LEASE_LOST');
      assert.equal((await api(url, 'POST', `/api/runner/jobs/${id}/logs`, { lease, lines: [] }, a)).status, 409);
    }
    const numeric = await api<Problem>(url, 'POST', `/api/runner/jobs/${id}/heartbeat`, { lease: 2 }, b);
    assert.equal(numeric.status, 400, 'the sequential integers of old are no token');
    assert.equal((await server.store.job(id))!.status, 'running');
    assert.equal((await api(url, 'POST', `/api/runner/jobs/${id}/heartbeat`, { lease: second.lease.token }, b)).status, 200);
    assert.equal((await api(url, 'POST', `/api/runner/jobs/${id}/complete`, { lease: second.lease.token, status: 'succeeded' }, b)).status, 200);
    const unknown = await api<Problem>(url, 'POST', '/api/runner/jobs/00000000-0000-0000-0000-000000000000/heartbeat', { lease: second.lease.token }, b);
    assert.equal(unknown.status, 404);
  });

  test(`[${kind}] lease tokens are random and only their hashes are stored`, async () => {
    const server = await testServer(kind);
    after(() => server.close());
    const r = (await api<{ token: string }>(server.url, 'POST', '/api/runners/register', { name: 'many', max_jobs: 50 }, REGISTRATION)).body.token;
    for (let i = 0; i < 20; i++) await api(server.url, 'POST', '/api/jobs', { name: `j${i}`, steps: [{ name: 's', run: 'true' }] });
    const tokens: string[] = [];
    for (let i = 0; i < 20; i++) tokens.push((await api<Leased>(server.url, 'POST', '/api/runner/lease', { wait_ms: 0 }, r)).body.lease.token);
    assert.equal(new Set(tokens).size, 20);
    const rows = await server.store.db.query<{ lease_hash: string; lease_token: number }>('SELECT lease_hash, lease_token FROM jobs');
    const stored = JSON.stringify(rows);
    for (const t of tokens) assert.ok(!stored.includes(t), 'no token in the database');
    assert.ok(rows.every((row) => /^[0-9a-f]{64}$/.test(row.lease_hash)));
  });
}
