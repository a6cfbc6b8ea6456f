import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { api, tempDir } from './harness.ts';
import { freePort, startRunnerProcess, startServerProcess, waitForJob } from './processes.ts';

const WORKFLOW = readFileSync(new URL('../fixtures/github-server/matrix-from-needs.yml', import.meta.url), 'utf8');

/**
 * A GitHub matrix made by an earlier job's output, on a server with a runner process and real
 * engines: the server queues the job once, its runner expands it when the lease brings the
 * output, runs each combination in its own engine and reports each; the job after it reads
 * the combined result and outputs through its own lease.
 */
test('a matrix from the outputs of the job it needs runs as its combinations on the server, and the job after it sees them', { timeout: 240_000 }, async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = await startServerProcess(port, tempDir());
  let runner: Awaited<ReturnType<typeof startRunnerProcess>> | undefined;
  try {
    runner = await startRunnerProcess(url, 'matrix-runner');
    const submitted = await api<{ id: string }>(url, 'POST', '/api/jobs', { name: 'per-package', pipeline: WORKFLOW, file: '.github/workflows/ci.yml' });
    assert.equal(submitted.status, 201, JSON.stringify(submitted.body));
    const done = await waitForJob(url, submitted.body.id, 200_000);
    const jobs = done.jobs as { id: string; name: string; status: string; result?: { name: string; status: string; outputs?: Record<string, string> }[] }[];
    assert.equal(done.status, 'succeeded', `${JSON.stringify(jobs.map((j) => [j.name, j.status]))}\n${runner.output().slice(-3000)}`);
    assert.deepEqual(jobs.map((j) => j.name), ['plan', 'build (linux)', 'after'], 'the server queued the job once');
    const build = jobs.find((j) => j.name === 'build (linux)')!;
    const logOf = async (id: string) => (await api<{ lines: { text: string }[] }>(url, 'GET', `/api/jobs/${id}/logs`)).body.lines.map((l) => l.text);
    const built = await logOf(build.id);
    assert.ok(built.includes('building core') && built.includes('building cli'), built.join('\n'));
    const shown = await api<{ result: { name: string; status: string }[] }>(url, 'GET', `/api/jobs/${build.id}`);
    assert.deepEqual(shown.body.result.map((r) => [r.name, r.status]), [['build (core, linux)', 'success'], ['build (cli, linux)', 'success']], 'each combination is reported');
    const after = await logOf(jobs.find((j) => j.name === 'after')!.id);
    assert.ok(after.includes('build was success, last built cli'), after.join('\n'));
  } finally {
    await runner?.stop();
    await server.stop();
  }
});
