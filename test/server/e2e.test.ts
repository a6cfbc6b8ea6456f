import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { engineNames, hostEngine } from '../helpers.ts';
import { ADMIN, REGISTRATION, api, resetPostgres, tempDir } from './harness.ts';
import { freePort, startRunnerProcess, startServerProcess, waitForJob } from './processes.ts';

const run = promisify(execFile);
const host = await hostEngine();

const engines = () => engineNames(host);

const curl = async (...args: string[]) => (await run('curl', ['-sS', '--fail-with-body', ...args], { maxBuffer: 16 * 1024 * 1024 })).stdout;
const slowJob = (name: string, lines: number) => ({ name, steps: [{ name: 'count', run: `for i in $(seq 1 ${lines}); do echo "line $i"; sleep 0.5; done` }] });

async function logTexts(url: string, id: string): Promise<{ seq: number; text: string }[]> {
  const r = await api<{ lines: { seq: number; text: string; source: string }[] }>(url, 'GET', `/api/jobs/${id}/logs`);
  return r.body.lines.filter((l) => l.source === 'count' && l.text.startsWith('line '));
}

test('the seed flow with curl: register, list, status, health, submit, follow live, result', { timeout: 120_000 }, async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = await startServerProcess(port, tempDir());
  const auth = ['-H', `Authorization: Bearer ${ADMIN}`];
  let runner;
  try {
    const registered = JSON.parse(await curl('-X', 'POST', '-H', `Authorization: Bearer ${REGISTRATION}`, '-H', 'Content-Type: application/json', '-d', JSON.stringify({ name: 'seed', type: 'docker', host: 'localhost', port: 0, capabilities: ['docker'], metadata: { by: 'curl' } }), `${url}/api/runners/register`)) as { token: string; name: string };
    assert.match(registered.token, /^nst_run_/);
    runner = await startRunnerProcess(url, 'seed', {}).catch(async () => {
      throw new Error('runner did not start');
    });
    const list = JSON.parse(await curl(...auth, `${url}/api/runners`)) as { runners: { name: string }[] };
    assert.ok(list.runners.some((r) => r.name === 'seed'));
    const status = JSON.parse(await curl(...auth, `${url}/api/runners/seed/status`)) as { state: string; max_jobs: number };
    assert.equal(status.state, 'idle');
    const health = JSON.parse(await curl(...auth, `${url}/api/runners/seed/health`)) as { healthy: boolean };
    assert.equal(health.healthy, true);
    const job = JSON.parse(await curl(...auth, '-H', 'Content-Type: application/json', '-d', JSON.stringify({ name: 'hello', steps: [{ name: 'hello', run: 'echo hello from nestor; sleep 1; echo bye' }] }), `${url}/api/jobs`)) as { id: string; status: string };
    assert.equal(job.status, 'queued');
    const events = await curl('-N', ...auth, '-H', 'Accept: text/event-stream', `${url}/api/jobs/${job.id}/logs`);
    assert.match(events, /event: log\ndata: .*"text":"hello from nestor"/);
    assert.match(events, /event: log\ndata: .*"text":"bye"/);
    assert.match(events, /event: end\ndata: \{"status":"succeeded"/);
    const ids = [...events.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1]));
    assert.deepEqual(ids, [...ids].sort((a, b) => a - b), 'event ids increase');
    const resumed = await curl('-N', ...auth, '-H', 'Accept: text/event-stream', '-H', `Last-Event-ID: ${ids.at(-2)}`, `${url}/api/jobs/${job.id}/logs`);
    assert.equal([...resumed.matchAll(/^id: /gm)].length, 1, 'Last-Event-ID resumes after that line');
    const result = JSON.parse(await curl(...auth, `${url}/api/jobs/${job.id}`)) as { status: string; runner: string };
    assert.deepEqual([result.status, result.runner], ['succeeded', 'seed']);
    const metrics = await curl(...auth, `${url}/metrics`);
    assert.match(metrics, /nestor_queue_depth 0/);
    assert.match(metrics, /nestor_engine_start_seconds_count 1/);
  } finally {
    await runner?.stop();
    await server.stop();
  }
});

test('kill -9 of the server mid-job: after a restart the job finishes and its logs are whole', { timeout: 120_000 }, async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const dataDir = tempDir();
  let server = await startServerProcess(port, dataDir);
  const runner = await startRunnerProcess(url, 'steady');
  try {
    const job = await api<{ id: string }>(url, 'POST', '/api/jobs', slowJob('survivor', 10));
    const deadline = Date.now() + 60_000;
    while ((await logTexts(url, job.body.id)).length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const before = await logTexts(url, job.body.id);
    assert.ok(before.length >= 2, 'the job was running and logging');
    await server.kill9();
    await new Promise((r) => setTimeout(r, 1000));
    server = await startServerProcess(port, dataDir);
    const done = await waitForJob(url, job.body.id, 60_000);
    assert.equal(done.status, 'succeeded', JSON.stringify(done));
    const after = await logTexts(url, job.body.id);
    assert.deepEqual(after.slice(0, before.length), before, 'the lines kept before the kill are intact');
    assert.deepEqual(after.map((l) => l.text), Array.from({ length: 10 }, (_, i) => `line ${i + 1}`), 'and no line is lost or doubled');
  } finally {
    await runner.stop();
    await server.stop();
  }
});

test('kill -9 of a runner mid-job: requeued within lease + 5 s, done by another runner; the dead one cleans up when it comes back', { timeout: 150_000 }, async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const leaseSeconds = 3;
  const server = await startServerProcess(port, tempDir(), { NESTOR_LEASE_SECONDS: String(leaseSeconds) });
  const baseline = (await engines()).length;
  let first = await startRunnerProcess(url, 'first');
  let second;
  try {
    const job = await api<{ id: string }>(url, 'POST', '/api/jobs', slowJob('moved', 6));
    await waitForJob(url, job.body.id, 60_000, (j) => j.status === 'running' && j.runner === 'first');
    while ((await logTexts(url, job.body.id)).length < 1) await new Promise((r) => setTimeout(r, 100));
    second = await startRunnerProcess(url, 'second');
    const killedAt = Date.now();
    await first.kill9();
    await waitForJob(url, job.body.id, (leaseSeconds + 5) * 1000 + 5000, (j) => j.runner === 'second');
    const movedAfter = Date.now() - killedAt;
    assert.ok(movedAfter <= (leaseSeconds + 5) * 1000, `requeued and taken after ${movedAfter} ms`);
    const done = await waitForJob(url, job.body.id, 60_000);
    assert.deepEqual([done.status, done.runner, done.attempts], ['succeeded', 'second', 2]);
    assert.ok((await engines()).length > baseline, 'the killed runner left its engine behind');
    first = await startRunnerProcess(url, 'first');
    assert.match(first.output(), /removed engines left by an earlier run/);
  } finally {
    await first.stop();
    await second?.stop();
    await server.stop();
  }
  assert.equal((await engines()).length, baseline, 'no engine is left');
});

test('two servers on one PostgreSQL with two runners share the work', { timeout: 150_000 }, async () => {
  const databaseUrl = await resetPostgres();
  const [p1, p2] = [await freePort(), await freePort()];
  const [u1, u2] = [`http://127.0.0.1:${p1}`, `http://127.0.0.1:${p2}`];
  const env = { NESTOR_DATABASE_URL: databaseUrl };
  // Whatever started is stopped, even when a later start fails: a process left running would
  // hold this test file open.
  const procs: { stop(): Promise<void> }[] = [];
  const started = async <P extends { stop(): Promise<void> }>(p: Promise<P>): Promise<P> => {
    const proc = await p;
    procs.push(proc);
    return proc;
  };
  try {
    await started(startServerProcess(p1, tempDir(), env));
    await started(startServerProcess(p2, tempDir(), env));
    await started(startRunnerProcess(u1, 'left'));
    await started(startRunnerProcess(u2, 'right'));
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await api<{ id: string }>(i % 2 ? u2 : u1, 'POST', '/api/jobs', { name: `shared-${i}`, steps: [{ name: 's', run: 'sleep 1; echo done' }] });
      assert.equal(r.status, 201);
      ids.push(r.body.id);
    }
    const done = await Promise.all(ids.map((id) => waitForJob(u1, id, 120_000)));
    assert.ok(done.every((j) => j.status === 'succeeded'), JSON.stringify(done));
    assert.deepEqual([...new Set(done.map((j) => j.runner))].sort(), ['left', 'right']);
    const viaOther = await api<{ status: string }>(u2, 'GET', `/api/jobs/${ids[0]}`);
    assert.equal(viaOther.body.status, 'succeeded', 'either server answers for every job');
  } finally {
    await Promise.all(procs.slice(2).map((p) => p.stop())); // runners first, then servers
    await Promise.all(procs.slice(0, 2).map((p) => p.stop()));
  }
});

test('a cancel through the API stops the running job within 2 s and removes its engine', { timeout: 120_000 }, async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = await startServerProcess(port, tempDir());
  const runner = await startRunnerProcess(url, 'stopper');
  const baseline = (await engines()).length;
  try {
    const job = await api<{ id: string }>(url, 'POST', '/api/jobs', slowJob('endless', 600));
    while ((await logTexts(url, job.body.id)).length < 1) await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    assert.equal((await api(url, 'POST', `/api/jobs/${job.body.id}/cancel`)).status, 200);
    const done = await waitForJob(url, job.body.id, 10_000);
    const elapsed = Date.now() - t0;
    assert.equal(done.status, 'cancelled');
    assert.ok(elapsed < 2000 + 500, `cancelled after ${elapsed} ms`);
    const deadline = Date.now() + 5000;
    while ((await engines()).length > baseline && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.equal((await engines()).length, baseline);
  } finally {
    await runner.stop();
    await server.stop();
  }
});

test('nestor up: server, local runner and embedded store in one process; the demo job builds and runs an image', { timeout: 180_000 }, async () => {
  const { nestor } = await import('../helpers.ts');
  const r = await nestor(['up', '--port', '0', '--data-dir', tempDir(), '--exit-after-demo']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stderr, /admin token \(shown once/);
  assert.match(r.stdout, /build \| built inside job engine/);
  assert.match(r.stderr, /demo job succeeded/);
});

test('a GitLab pipeline on the server: each job leased by any runner, in its own engine, with artifacts passed through the server', { timeout: 240_000 }, async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = await startServerProcess(port, tempDir());
  const runners = [];
  try {
    runners.push(await startRunnerProcess(url, 'left'), await startRunnerProcess(url, 'right'));
    const pipeline = [
      'stages: [build, test]',
      'build:', '  stage: build', '  image: busybox:latest', '  script: ["mkdir -p out && echo made on $(hostname) > out/msg"]', '  artifacts: {paths: [out/]}',
      'one:', '  stage: test', '  image: busybox:latest', '  script: ["cat out/msg"]',
      'two:', '  stage: test', '  image: busybox:latest', '  script: ["cat out/msg"]',
      '',
    ].join('\n');
    const submitted = await api<{ id: string }>(url, 'POST', '/api/jobs', { name: 'gitlab', pipeline, file: '.gitlab-ci.yml' });
    assert.equal(submitted.status, 201, JSON.stringify(submitted.body));
    const done = (await waitForJob(url, submitted.body.id, 200_000)) as { status: string; jobs: { id: string; name: string; status: string; runner: string }[] };
    assert.equal(done.status, 'succeeded', JSON.stringify(done));
    assert.deepEqual(done.jobs.map((j) => [j.name, j.status]), [['build', 'succeeded'], ['one', 'succeeded'], ['two', 'succeeded']]);
    assert.ok(done.jobs.every((j) => ['left', 'right'].includes(j.runner)));
    const built = (await api<{ lines: { text: string }[] }>(url, 'GET', `/api/jobs/${done.jobs[0]!.id}/logs`)).body.lines.map((l) => l.text);
    assert.ok(built.some((t) => /^artifacts: kept 1 file/.test(t)), built.join('\n'));
    for (const job of done.jobs.slice(1)) {
      const lines = (await api<{ lines: { text: string }[] }>(url, 'GET', `/api/jobs/${job.id}/logs`)).body.lines.map((l) => l.text);
      assert.ok(lines.some((t) => t.startsWith('made on ')), `${job.name} read build's artifact:\n${lines.join('\n')}`);
    }
    // A runner reports first and removes the engine after.
    const deadline = Date.now() + 30_000;
    while ((await engines()).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(await engines(), [], 'every job engine is gone');
  } finally {
    for (const r of runners) await r.stop();
    await server.stop();
  }
});

test('a GitHub workflow on the server: needs outputs, a matrix, if: always(), artifacts and the step summary, each job on any runner in its own engine', { timeout: 300_000 }, async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = await startServerProcess(port, tempDir());
  const runners = [];
  try {
    runners.push(await startRunnerProcess(url, 'left'), await startRunnerProcess(url, 'right'));
    const workflow = [
      'name: CI',
      'on: push',
      'jobs:',
      '  prepare:',
      '    runs-on: ubuntu-latest',
      '    outputs:',
      '      version: ${{ steps.v.outputs.version }}',
      '    steps:',
      '      - id: v',
      '        run: |',
      '          echo "version=3.2.1" >> "$GITHUB_OUTPUT"',
      '          echo "### prepared 3.2.1" >> "$GITHUB_STEP_SUMMARY"',
      '  test:',
      '    needs: prepare',
      "    if: needs.prepare.outputs.version != ''",
      '    runs-on: ubuntu-latest',
      '    strategy:',
      '      matrix:',
      '        n: [1, 2]',
      '    steps:',
      '      - run: mkdir -p out && echo "n=${{ matrix.n }} of ${{ needs.prepare.outputs.version }}" > out/r${{ matrix.n }}.txt',
      '      - uses: actions/upload-artifact@v4',
      '        with:',
      '          name: r${{ matrix.n }}',
      '          path: out/',
      '  report:',
      '    needs: [prepare, test]',
      '    if: always()',
      '    runs-on: ubuntu-latest',
      '    steps:',
      '      - uses: actions/download-artifact@v4',
      '      - run: cat r1/r1.txt r2/r2.txt && echo "test was ${{ needs.test.result }}"',
      '',
    ].join('\n');
    const submitted = await api<{ id: string }>(url, 'POST', '/api/jobs', { name: 'github', pipeline: workflow, file: '.github/workflows/ci.yml' });
    assert.equal(submitted.status, 201, JSON.stringify(submitted.body));
    const done = (await waitForJob(url, submitted.body.id, 280_000)) as { status: string; jobs: { id: string; name: string; status: string; runner: string }[] };
    assert.equal(done.status, 'succeeded', JSON.stringify(done));
    assert.deepEqual(done.jobs.map((j) => [j.name, j.status]), [['prepare', 'succeeded'], ['test (1)', 'succeeded'], ['test (2)', 'succeeded'], ['report', 'succeeded']]);
    const prepared = (await api<{ result: { outputs?: Record<string, string>; summary?: string }[] }>(url, 'GET', `/api/jobs/${done.jobs[0]!.id}`)).body;
    assert.deepEqual(prepared.result[0]!.outputs, { version: '3.2.1' });
    assert.equal(prepared.result[0]!.summary, '### prepared 3.2.1\n', 'the step summary is kept with the job and shown by the API');
    const report = (await api<{ lines: { text: string }[] }>(url, 'GET', `/api/jobs/${done.jobs[3]!.id}/logs`)).body.lines.map((l) => l.text);
    for (const line of ['n=1 of 3.2.1', 'n=2 of 3.2.1', 'test was success']) assert.ok(report.includes(line), `${line}:\n${report.join('\n')}`);
    const deadline = Date.now() + 30_000;
    while ((await engines()).length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(await engines(), [], 'every job engine is gone');
  } finally {
    for (const r of runners) await r.stop();
    await server.stop();
  }
});
