import { readFileSync } from 'node:fs';
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, REGISTRATION, STORES, testServer } from './harness.ts';

/**
 * A GitHub workflow queued job by job: each runner runs one job alone, so the lease of a job
 * with needs carries how the jobs it needs ended and the outputs their runners reported
 * (`needs.prepare.outputs.version`, `needs.test.result`). The test speaks the runner protocol
 * itself, on both stores; no Docker.
 */
const WORKFLOW = readFileSync(new URL('../fixtures/github-server/needs.yml', import.meta.url), 'utf8');

type Need = { name: string; status: string; outputs: Record<string, string> };
type Leased = { job: { id: string; name: string; spec: { job?: string }; needs?: Need[] }; lease: { token: string } };

for (const kind of STORES) {
  test(`[${kind}] a GitHub job's lease carries the outcomes and outputs of the jobs it needs`, { timeout: 60_000 }, async () => {
    const server = await testServer(kind);
    after(() => server.close());
    const submitted = await api<{ id: string }>(server.url, 'POST', '/api/jobs', { name: 'ci', pipeline: WORKFLOW, file: '.github/workflows/ci.yml' });
    assert.equal(submitted.status, 201, JSON.stringify(submitted.body));
    const pipelineId = submitted.body.id;
    const statuses = async () => Object.fromEntries((await api<{ jobs: { name: string; status: string }[] }>(server.url, 'GET', `/api/jobs/${pipelineId}`)).body.jobs.map((j) => [j.name, j.status]));
    assert.deepEqual(await statuses(), { prepare: 'queued', 'test (20)': 'waiting', 'test (22)': 'waiting', report: 'waiting' });

    const token = (await api<{ token: string }>(server.url, 'POST', '/api/runners/register', { name: 'r', max_jobs: 4 }, REGISTRATION)).body.token;
    const lease = async () => {
      const r = await api<Leased>(server.url, 'POST', '/api/runner/lease', { wait_ms: 0 }, token);
      assert.notEqual(r.status, 204, 'a job is queued');
      return r.body;
    };
    const complete = async (l: Leased, status: 'succeeded' | 'failed', result: unknown[]) => {
      const r = await api(server.url, 'POST', `/api/runner/jobs/${l.job.id}/complete`, { lease: l.lease.token, status, result }, token);
      assert.equal(r.status, 200, JSON.stringify(r.body));
    };
    const jobResult = (name: string, status: string, outputs?: Record<string, string>) => ({ name, status, steps: [], durationMs: 1, engine: 'x', ...(outputs ? { outputs } : {}) });

    const prepare = await lease();
    assert.equal(prepare.job.spec.job, 'prepare');
    assert.equal(prepare.job.needs, undefined, 'a job that needs nothing is leased as before');
    await complete(prepare, 'succeeded', [jobResult('prepare', 'success', { version: '1.2.3' })]);
    assert.deepEqual(await statuses(), { prepare: 'succeeded', 'test (20)': 'queued', 'test (22)': 'queued', report: 'waiting' });

    // Each combination of the matrix is leased with prepare's outcome and outputs.
    const tests = [await lease(), await lease()];
    assert.deepEqual(tests.map((l) => l.job.spec.job).sort(), ['test (20)', 'test (22)']);
    for (const l of tests) assert.deepEqual(l.job.needs, [{ name: 'prepare', status: 'success', outputs: { version: '1.2.3' } }]);

    // One combination passes with an output, the other fails without a result of its own.
    const [t20, t22] = tests[0]!.job.spec.job === 'test (20)' ? [tests[0]!, tests[1]!] : [tests[1]!, tests[0]!];
    await complete(t20, 'succeeded', [jobResult('test (20)', 'success', { coverage: '91' })]);
    await complete(t22, 'failed', []);
    assert.deepEqual(await statuses(), { prepare: 'succeeded', 'test (20)': 'succeeded', 'test (22)': 'failed', report: 'queued' }, 'report runs always()');

    const report = await lease();
    assert.equal(report.job.spec.job, 'report');
    assert.deepEqual(report.job.needs, [
      { name: 'test (20)', status: 'success', outputs: { coverage: '91' } },
      { name: 'test (22)', status: 'failure', outputs: {} },
    ]);
    await complete(report, 'succeeded', [jobResult('report', 'success')]);
    assert.equal((await api<{ status: string }>(server.url, 'GET', `/api/jobs/${pipelineId}`)).body.status, 'failed');
  });
}
