import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, REGISTRATION, STORES, testServer } from './harness.ts';

// The queue under load: real HTTP, the real store, runners speaking the runner protocol. The
// "work" is completing the job at once, so what is measured is the queue, not the engines.
for (const kind of STORES) {
  test(`[${kind}] 1,000 jobs from 20 concurrent clients each run exactly once`, { timeout: 240_000 }, async () => {
    const server = await testServer(kind);
    after(() => server.close());
    const TOTAL = 1000;
    const CLIENTS = 20;
    const submitted: string[] = [];
    await Promise.all(
      Array.from({ length: CLIENTS }, async (_, c) => {
        for (let i = c; i < TOTAL; i += CLIENTS) {
          const r = await api<{ id: string }>(server.url, 'POST', '/api/jobs', { name: `job-${i}`, steps: [{ name: 's', run: 'true' }] });
          assert.equal(r.status, 201);
          submitted.push(r.body.id);
        }
      }),
    );
    assert.equal(new Set(submitted).size, TOTAL);

    const ran = new Map<string, number>();
    const runners = await Promise.all(
      ['r1', 'r2', 'r3', 'r4'].map(async (name) => {
        const r = await api<{ token: string }>(server.url, 'POST', '/api/runners/register', { name, max_jobs: 8 }, REGISTRATION);
        return { name, token: r.body.token };
      }),
    );
    let done = 0;
    await Promise.all(
      runners.flatMap((runner) =>
        Array.from({ length: 4 }, async () => {
          while (done < TOTAL) {
            const leased = await api<{ job: { id: string }; lease: { token: string } }>(server.url, 'POST', '/api/runner/lease', { wait_ms: 200 }, runner.token);
            if (leased.status === 204) continue;
            assert.equal(leased.status, 200);
            ran.set(leased.body.job.id, (ran.get(leased.body.job.id) ?? 0) + 1);
            const c = await api(server.url, 'POST', `/api/runner/jobs/${leased.body.job.id}/complete`, { lease: leased.body.lease.token, status: 'succeeded' }, runner.token);
            assert.equal(c.status, 200);
            done++;
          }
        }),
      ),
    );
    assert.equal(ran.size, TOTAL, 'every job ran');
    assert.deepEqual([...new Set(ran.values())], [1], 'no job ran twice');
    const counts = await server.store.countByStatus();
    assert.deepEqual([counts.succeeded, counts.queued, counts.running], [TOTAL, 0, 0]);
    const runs = await server.store.db.query<{ n: number }>('SELECT COUNT(*) AS n FROM job_runs');
    assert.equal(Number(runs[0]!.n), TOTAL, 'one recorded run per job');
  });
}
