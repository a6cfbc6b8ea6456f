import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, REGISTRATION, STORES, testServer } from './harness.ts';

/**
 * A workflow's `concurrency` group on the server, as GitHub runs it: one pipeline of a group at
 * a time; a newer one is held until the running one ends and replaces any older one still
 * held; with cancel-in-progress it cancels the running one and starts at once. The work is the
 * runner protocol spoken by the test, so what is checked is the queue, on both stores.
 */
const workflow = (group: string, cancel: boolean) =>
  ['name: deploy', 'on: push', 'concurrency:', `  group: ${group}-\${{ github.ref }}`, `  cancel-in-progress: ${cancel}`, 'jobs:', '  ship:', '    runs-on: ubuntu-latest', '    steps:', '      - run: ./ship', ''].join('\n');

type View = { id: string; status: string; cancel_requested: boolean; jobs: { id: string; status: string; cancel_requested: boolean }[] };
type Leased = { job: { id: string }; lease: { token: string } };

for (const kind of STORES) {
  test(`[${kind}] a concurrency group runs one pipeline at a time: a newer one waits and replaces an older waiting one; cancel-in-progress cancels the running one`, { timeout: 120_000 }, async () => {
    const server = await testServer(kind);
    after(() => server.close());
    const submit = async (group: string, cancel: boolean) => {
      const r = await api<{ id: string }>(server.url, 'POST', '/api/jobs', { name: group, pipeline: workflow(group, cancel), file: '.github/workflows/deploy.yml' });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.id;
    };
    const view = async (id: string) => (await api<View>(server.url, 'GET', `/api/jobs/${id}`)).body;
    const state = async (id: string) => {
      const v = await view(id);
      return [v.status, v.jobs.map((j) => j.status).join()];
    };
    const token = (await api<{ token: string }>(server.url, 'POST', '/api/runners/register', { name: 'r', max_jobs: 4 }, REGISTRATION)).body.token;
    const lease = async () => {
      const r = await api<Leased>(server.url, 'POST', '/api/runner/lease', { wait_ms: 0 }, token);
      return r.status === 204 ? undefined : r.body;
    };
    const complete = async (l: Leased, status: 'succeeded' | 'cancelled') => {
      const r = await api(server.url, 'POST', `/api/runner/jobs/${l.job.id}/complete`, { lease: l.lease.token, status, result: [] }, token);
      assert.equal(r.status, 200, JSON.stringify(r.body));
    };

    // Without cancel-in-progress: the first runs, the second waits, a third replaces the second.
    const first = await submit('prod', false);
    assert.deepEqual(await state(first), ['running', 'queued'], 'a one-job workflow in a group is a pipeline, running at once');
    const second = await submit('prod', false);
    assert.deepEqual(await state(second), ['waiting', 'waiting'], 'held behind the running one');
    const running = await lease();
    assert.equal(running?.job.id, (await view(first)).jobs[0]!.id);
    assert.equal(await lease(), undefined, 'nothing of the held pipeline is handed out');
    const third = await submit('prod', false);
    assert.deepEqual(await state(second), ['cancelled', 'cancelled'], 'an older held pipeline is replaced by the newer');
    assert.deepEqual(await state(third), ['waiting', 'waiting']);
    await complete(running!, 'succeeded');
    assert.deepEqual(await state(first), ['succeeded', 'succeeded']);
    assert.deepEqual(await state(third), ['running', 'queued'], 'the held one starts once the running one ended');
    const next = await lease();
    assert.equal(next?.job.id, (await view(third)).jobs[0]!.id);
    await complete(next!, 'succeeded');

    // Another group is not held by this one; with cancel-in-progress the newer cancels the running.
    const staging = await submit('staging', true);
    const stagingJob = await lease();
    assert.equal(stagingJob?.job.id, (await view(staging)).jobs[0]!.id);
    const newer = await submit('staging', true);
    assert.deepEqual(await state(newer), ['running', 'queued'], 'cancel-in-progress: the newer starts at once');
    const beat = await api<{ cancel: boolean }>(server.url, 'POST', `/api/runner/jobs/${stagingJob!.job.id}/heartbeat`, { lease: stagingJob!.lease.token }, token);
    assert.equal(beat.body.cancel, true, 'the running job is told to stop at its next heartbeat');
    await complete(stagingJob!, 'cancelled');
    assert.deepEqual(await state(staging), ['cancelled', 'cancelled']);
    assert.equal((await lease())?.job.id, (await view(newer)).jobs[0]!.id);

    // Cancelling a held pipeline ends it, and the next held one is not started early.
    const a = await submit('hold', false);
    const b = await submit('hold', false);
    const cancelled = await api(server.url, 'POST', `/api/jobs/${b}/cancel`);
    assert.ok(cancelled.status < 300, JSON.stringify(cancelled.body));
    assert.deepEqual(await state(b), ['cancelled', 'cancelled']);
    assert.deepEqual(await state(a), ['running', 'queued']);
  });
}
