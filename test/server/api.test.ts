import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, ADMIN, REGISTRATION, STORES, testServer } from './harness.ts';
import { hashToken } from '../../src/server/store/store.ts';

for (const kind of STORES) {
  test(`[${kind}] only /health answers without a token; tokens are stored hashed`, async () => {
    const server = await testServer(kind);
    after(() => server.close());
    assert.equal((await api(server.url, 'GET', '/health', undefined, '')).status, 200);
    const anonymous = await api(server.url, 'GET', '/api/runners', undefined, '');
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.type, /application\/problem\+json/);
    assert.equal((await api(server.url, 'GET', '/metrics', undefined, 'nst_wrong')).status, 401);
    assert.equal((await api(server.url, 'GET', '/api/runners', undefined, REGISTRATION)).status, 403, 'a registration token only registers');
    const stored = await server.store.db.query<{ hash: string }>('SELECT hash FROM tokens');
    assert.ok(stored.every((r) => r.hash !== ADMIN && r.hash !== REGISTRATION));
    assert.ok(stored.some((r) => r.hash === hashToken(ADMIN)));
    const user = await api<{ token: string }>(server.url, 'POST', '/api/tokens', { name: 'alice' });
    assert.equal(user.status, 201);
    assert.equal((await api(server.url, 'GET', '/api/runners', undefined, user.body.token)).status, 200);
  });

  test(`[${kind}] bad bodies are refused as problem+json that say what to fix`, async () => {
    const server = await testServer(kind, {});
    after(() => server.close());
    const missing = await api<{ code: string; errors: { path: string }[] }>(server.url, 'POST', '/api/jobs', { name: 'x', steps: [{ name: 'a', bogus: 1 }] });
    assert.equal(missing.status, 400);
    assert.match(missing.type, /problem\+json/);
    assert.equal(missing.body.code, 'NESTOR_BAD_REQUEST');
    const invalid = await api<{ problems: { position: { line: number; column: number }; message: string }[] }>(server.url, 'POST', '/api/jobs', { pipeline: 'steps:\n  a:\n    comands: [x]\n' });
    assert.equal(invalid.status, 422);
    assert.deepEqual([invalid.body.problems[0]!.position.line, invalid.body.problems[0]!.position.column], [3, 5]);
    assert.match(invalid.body.problems[0]!.message, /did you mean "commands"/);
    const huge = await api(server.url, 'POST', '/api/jobs', { name: 'x', steps: [{ name: 'a', run: 'x'.repeat(2 * 1024 * 1024) }] });
    assert.equal(huge.status, 413);
    assert.equal((await api(server.url, 'GET', '/api/jobs/00000000-0000-0000-0000-000000000000')).status, 404);
    const openapi = await api<{ paths: Record<string, unknown> }>(server.url, 'GET', '/api/openapi.json');
    assert.ok(openapi.body.paths['/api/jobs'] && openapi.body.paths['/api/runners/register']);
  });

  test(`[${kind}] a lease is fenced: once expired and taken over, the old holder cannot write`, async () => {
    const server = await testServer(kind, { leaseMs: 30_000 });
    after(() => server.close());
    const store = server.store;
    const runner = await store.registerRunner({ name: 'r1', type: 'docker', host: 'h', port: 0, capabilities: [], labels: [], metadata: {}, maxJobs: 2 });
    const job = await store.createJob({ name: 'j', spec: {}, maxAttempts: 2 });
    const first = (await store.lease(runner, 1000))!;
    assert.equal(first.job.id, job.id);
    assert.match(first.token, /^[0-9a-f]{32}$/, 'a random 128-bit token');
    await store.heartbeat(job.id, 'r1', first.token, 1000);
    const moved = await store.expireLeases(Date.now() + 5000);
    assert.deepEqual(moved.requeued, [job.id]);
    const second = (await store.lease(runner, 1000))!;
    assert.notEqual(second.token, first.token);
    assert.equal(second.job.leaseGeneration, first.job.leaseGeneration + 1);
    await assert.rejects(store.heartbeat(job.id, 'r1', first.token, 1000), /no longer held/);
    await assert.rejects(store.appendLogs(job.id, 'r1', first.token, [{ source: 's', stream: 'stdout', time: 1, text: 'x' }]), /no longer held/);
    await store.complete(job.id, 'r1', second.token, { status: 'succeeded' });
    assert.equal((await store.job(job.id))!.status, 'succeeded');
  });

  test(`[${kind}] jobs go to the runner they name or whose labels they need; max_jobs holds`, async () => {
    const server = await testServer(kind);
    after(() => server.close());
    const store = server.store;
    const plain = await store.registerRunner({ name: 'plain', type: 'docker', host: 'h', port: 0, capabilities: ['docker'], labels: [], metadata: {}, maxJobs: 1 });
    const gpu = await store.registerRunner({ name: 'gpu', type: 'docker', host: 'h', port: 0, capabilities: ['docker'], labels: ['gpu'], metadata: {}, maxJobs: 5 });
    const needsGpu = await store.createJob({ name: 'train', spec: {}, labels: ['gpu'] });
    const forPlain = await store.createJob({ name: 'pinned', spec: {}, targetRunner: 'plain' });
    const any = await store.createJob({ name: 'any', spec: {} });
    assert.equal((await store.lease(plain, 1000))!.job.id, forPlain.id);
    assert.equal(await store.lease(plain, 1000), undefined, 'plain is at max_jobs 1');
    assert.equal((await store.lease(gpu, 1000))!.job.id, needsGpu.id);
    assert.equal((await store.lease(gpu, 1000))!.job.id, any.id);
  });

  test(`[${kind}] a job a runner can take is found behind any number of jobs needing labels it lacks`, async () => {
    const server = await testServer(kind);
    after(() => server.close());
    const store = server.store;
    const plain = await store.registerRunner({ name: 'plain', type: 'docker', host: 'h', port: 0, capabilities: ['docker'], labels: [], metadata: {}, maxJobs: 1 });
    for (let i = 0; i < 120; i++) await store.createJob({ name: `arm-${i}`, spec: {}, labels: ['arm64'] });
    const mine = await store.createJob({ name: 'mine', spec: {}, labels: ['docker'] });
    assert.equal((await store.lease(plain, 1000))?.job.id, mine.id);
  });

  test(`[${kind}] retry policy: requeued up to max attempts, then failed; policy fail fails at once`, async () => {
    const server = await testServer(kind);
    after(() => server.close());
    const store = server.store;
    const r = await store.registerRunner({ name: 'r', type: 'docker', host: 'h', port: 0, capabilities: [], labels: [], metadata: {}, maxJobs: 5 });
    const retried = await store.createJob({ name: 'a', spec: {}, maxAttempts: 2 });
    const failFast = await store.createJob({ name: 'b', spec: {}, retryPolicy: 'fail' });
    await store.lease(r, 10);
    await store.lease(r, 10);
    let moved = await store.expireLeases(Date.now() + 1000);
    assert.deepEqual([moved.requeued, moved.failed], [[retried.id], [failFast.id]]);
    await store.lease(r, 10);
    moved = await store.expireLeases(Date.now() + 1000);
    assert.deepEqual(moved.failed, [retried.id]);
    assert.match((await store.job(retried.id))!.error ?? '', /attempt 2 of 2/);
  });
}
