import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, REGISTRATION, STORES, testServer } from './harness.ts';

/**
 * A pipeline of jobs on the server: each job queued on its own for any runner once its needs
 * have ended, skipped when they failed, the pipeline ended with its last job; artifacts passed
 * between jobs over the runner protocol, refused to anyone but the job's holder. The "work"
 * is the runner protocol spoken by the test, so what is checked is the queue, on both stores.
 */
const PIPELINE = [
  'stages: [build, test, deploy]',
  'build:', '  stage: build', '  script: [make]', '  artifacts: {paths: [dist/]}',
  'unit:', '  stage: test', '  script: [make test]',
  'broken:', '  stage: test', '  script: [exit 3]',
  'deploy:', '  stage: deploy', '  script: [./deploy]',
  'notify:', '  stage: deploy', '  when: on_failure', '  script: [./notify]',
  'manual:', '  stage: deploy', '  when: manual', '  script: [./by-hand]',
  '',
].join('\n');

type Leased = { job: { id: string; name: string; spec: { job?: string } }; lease: { token: string } };

for (const kind of STORES) {
  test(`[${kind}] a pipeline's jobs are queued one by one as their needs end, and pass artifacts through the server`, { timeout: 120_000 }, async () => {
    const server = await testServer(kind);
    after(() => server.close());
    const submitted = await api<{ id: string; status: string; pipeline: { role: string } }>(server.url, 'POST', '/api/jobs', { name: 'web', pipeline: PIPELINE, file: '.gitlab-ci.yml' });
    assert.equal(submitted.status, 201, JSON.stringify(submitted.body));
    assert.equal(submitted.body.status, 'running');
    assert.equal(submitted.body.pipeline.role, 'pipeline');
    const pipelineId = submitted.body.id;
    const view = async () => (await api<{ status: string; jobs: { id: string; name: string; status: string; error: string | null; pipeline: { needs: string[] } }[] }>(server.url, 'GET', `/api/jobs/${pipelineId}`)).body;
    const statuses = async () => Object.fromEntries((await view()).jobs.map((j) => [j.name, j.status]));
    assert.deepEqual(await statuses(), { build: 'queued', unit: 'waiting', broken: 'waiting', deploy: 'waiting', notify: 'waiting', manual: 'skipped' });

    const register = async (name: string) => (await api<{ token: string }>(server.url, 'POST', '/api/runners/register', { name, max_jobs: 4 }, REGISTRATION)).body.token;
    const [r1, r2] = [await register('r1'), await register('r2')];
    const lease = async (token: string) => {
      const r = await api<Leased>(server.url, 'POST', '/api/runner/lease', { wait_ms: 0 }, token);
      return r.status === 204 ? undefined : r.body;
    };
    const complete = async (token: string, l: Leased, status: 'succeeded' | 'failed') => {
      const r = await api(server.url, 'POST', `/api/runner/jobs/${l.job.id}/complete`, { lease: l.lease.token, status, result: [] }, token);
      assert.equal(r.status, 200, JSON.stringify(r.body));
    };
    const artifacts = (l: Leased, token: string, method: string, path = '', body?: Buffer) =>
      fetch(`${server.url}/api/runner/jobs/${l.job.id}/artifacts${path}`, { method, headers: { authorization: `Bearer ${token}`, 'x-nestor-lease': l.lease.token, ...(body ? { 'content-type': 'application/x-tar' } : {}) }, ...(body ? { body: new Uint8Array(body) } : {}) });

    const build = await lease(r1);
    assert.equal(build?.job.spec.job, 'build');
    assert.equal(await lease(r2), undefined, 'nothing else is queued while build runs');
    const archive = Buffer.alloc(2048, 0);
    archive.write('dist/app.js', 0);
    const put = await artifacts(build!, r1, 'PUT', '?expires_at=never', archive);
    assert.equal(put.status, 201, await put.text());
    const stranger = await fetch(`${server.url}/api/runner/jobs/${build!.job.id}/artifacts`, { method: 'PUT', headers: { authorization: `Bearer ${r2}`, 'x-nestor-lease': build!.lease.token, 'content-type': 'application/x-tar' }, body: new Uint8Array(archive) });
    assert.equal(stranger.status, 403, 'a runner that does not hold the job cannot leave artifacts for it');
    await complete(r1, build!, 'succeeded');
    assert.deepEqual(await statuses(), { build: 'succeeded', unit: 'queued', broken: 'queued', deploy: 'waiting', notify: 'waiting', manual: 'skipped' });

    // The test stage's two jobs go to two runners at once, each fetching build's artifacts.
    const first = (await lease(r1))!;
    const second = (await lease(r2))!;
    assert.deepEqual([first.job.spec.job, second.job.spec.job].sort(), ['broken', 'unit']);
    const got = await artifacts(second, r2, 'GET', '/build');
    assert.equal(got.status, 200);
    assert.deepEqual(Buffer.from(await got.arrayBuffer()), archive);
    assert.equal((await artifacts(second, r2, 'GET', '/unit')).status, 404, 'a job that left none answers 404');
    const unit = first.job.spec.job === 'unit' ? first : second;
    const broken = unit === first ? second : first;
    await complete(unit === first ? r1 : r2, unit, 'succeeded');
    assert.equal((await view()).status, 'running');
    await complete(broken === first ? r1 : r2, broken, 'failed');

    const ended = await view();
    const byName = Object.fromEntries(ended.jobs.map((j) => [j.name, j]));
    assert.deepEqual(await statuses(), { build: 'succeeded', unit: 'succeeded', broken: 'failed', deploy: 'skipped', notify: 'queued', manual: 'skipped' });
    assert.equal(byName.deploy!.error, 'not run: it needs broken, which failed');
    assert.deepEqual(byName.deploy!.pipeline.needs, ['build', 'unit', 'broken']);
    const notify = (await lease(r2))!;
    assert.equal(notify.job.spec.job, 'notify');
    await complete(r2, notify, 'succeeded');
    const done = await view();
    assert.equal(done.status, 'failed', 'the pipeline fails with its failed job');
    assert.equal((await lease(r1)), undefined);
  });

  test(`[${kind}] cancelling a pipeline cancels its jobs, running ones at their next heartbeat`, { timeout: 60_000 }, async () => {
    const server = await testServer(kind);
    after(() => server.close());
    const { body } = await api<{ id: string }>(server.url, 'POST', '/api/jobs', { name: 'web', pipeline: PIPELINE, file: '.gitlab-ci.yml' });
    const token = (await api<{ token: string }>(server.url, 'POST', '/api/runners/register', { name: 'r', max_jobs: 4 }, REGISTRATION)).body.token;
    const build = (await api<Leased>(server.url, 'POST', '/api/runner/lease', { wait_ms: 0 }, token)).body;
    await api(server.url, 'POST', `/api/jobs/${body.id}/cancel`);
    const beat = await api<{ cancel: boolean }>(server.url, 'POST', `/api/runner/jobs/${build.job.id}/heartbeat`, { lease: build.lease.token }, token);
    assert.equal(beat.body.cancel, true);
    const waiting = (await api<{ jobs: { name: string; status: string }[] }>(server.url, 'GET', `/api/jobs/${body.id}`)).body.jobs.filter((j) => j.name !== 'build');
    assert.ok(waiting.every((j) => j.status === 'cancelled' || j.status === 'skipped'), JSON.stringify(waiting));
    await api(server.url, 'POST', `/api/runner/jobs/${build.job.id}/complete`, { lease: build.lease.token, status: 'cancelled', result: [] }, token);
    assert.equal((await api<{ status: string }>(server.url, 'GET', `/api/jobs/${body.id}`)).body.status, 'cancelled');
  });

  test(`[${kind}] a job whose file asks for runner labels (Drone's node) goes only to a runner that has them`, { timeout: 60_000 }, async () => {
    const server = await testServer(kind);
    after(() => server.close());
    const drone = 'kind: pipeline\nname: any\nsteps:\n  - name: a\n    image: busybox\n    commands: [echo]\n---\nkind: pipeline\nname: eu\nnode: {zone: eu}\nsteps:\n  - name: a\n    image: busybox\n    commands: [echo]\n';
    const { body } = await api<{ id: string }>(server.url, 'POST', '/api/jobs', { name: 'zones', pipeline: drone, file: '.drone.yml' });
    const token = async (name: string, labels: string[]) => (await api<{ token: string }>(server.url, 'POST', '/api/runners/register', { name, max_jobs: 4, labels }, REGISTRATION)).body.token;
    const plain = await token('plain', []);
    const eu = await token('in-eu', ['zone=eu']);
    const lease = async (t: string) => {
      const r = await api<Leased>(server.url, 'POST', '/api/runner/lease', { wait_ms: 0 }, t);
      return r.status === 204 ? undefined : r.body.job.spec.job;
    };
    assert.equal(await lease(plain), 'any');
    assert.equal(await lease(plain), undefined, 'the eu job is not for a runner without zone=eu');
    assert.equal(await lease(eu), 'eu');
    const jobs = (await api<{ jobs: { name: string; labels: string[] }[] }>(server.url, 'GET', `/api/jobs/${body.id}`)).body.jobs;
    assert.deepEqual(jobs.map((j) => [j.name, j.labels]), [['any', []], ['eu', ['zone=eu']]]);
  });
}
