import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN, api, REGISTRATION, STORES, testServer } from './harness.ts';
import { eventsOf } from '../../src/cli/event-stream.ts';
import { deliver, githubPush, TestRepo } from './repo-fixture.ts';

/**
 * A newer push supersedes an older pipeline of its branch where the file asks for it (GitLab's
 * `interruptible`) or the repository is set so (auto-cancel); a pipeline restarts whole or only
 * its failed jobs, as a new numbered pipeline that keeps the old one. Both stores, jobs run by
 * speaking the runner protocol (test/server/repo-e2e.test.ts runs them on engines).
 */
const GITLAB = `stages: [build, test]
build:
  stage: build
  interruptible: true
  script: [echo build]
test:
  stage: test
  script: [echo test]
`;

type Leased = { job: { id: string; spec: { job?: string } }; lease: { token: string } };
type Pipeline = { id: string; number: number; status: string; error: string | null; trigger: { cause: string; restartOf?: number; commit: string }; jobs: { name: string; status: string }[] };

for (const kind of STORES) {
  test(`[${kind}] a newer push cancels an interruptible pipeline of its branch; a restart of the failed jobs runs only them, as a new pipeline`, { timeout: 90_000 }, async () => {
    const server = await testServer(kind);
    after(() => server.close());
    const repo = new TestRepo();
    const added = await api<{ webhook: { path: string; secret: string } }>(server.url, 'POST', '/api/repos', { url: repo.url });
    const hook = `${server.url}${added.body.webhook.path}`;
    const secret = added.body.webhook.secret;
    const runner = (await api<{ token: string }>(server.url, 'POST', '/api/runners/register', { name: 'r1', max_jobs: 4 }, REGISTRATION)).body.token;
    const lease = async (expected: string) => {
      const l = await api<Leased>(server.url, 'POST', '/api/runner/lease', { wait_ms: 2000 }, runner);
      assert.equal(l.status, 200, `job ${expected} is queued`);
      assert.equal(l.body.job.spec.job, expected);
      return l.body;
    };
    const complete = async (l: Leased, status: string) => assert.equal((await api(server.url, 'POST', `/api/runner/jobs/${l.job.id}/complete`, { lease: l.lease.token, status, result: [] }, runner)).status, 200);
    const pipeline = async (n: number) => (await api<Pipeline>(server.url, 'GET', `/api/repos/team%2Fapp/pipelines/${n}`)).body;
    const push = async (files: Record<string, string>, message: string) => {
      const c = repo.commit(files, message);
      const r = await deliver(hook, githubPush(secret, { ref: 'refs/heads/main', ...c, message }));
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return c;
    };

    // A page following the repository's pipelines hears each change as it happens.
    const following = new AbortController();
    after(() => following.abort());
    const heard: { number: number; status: string; jobs: { name: string; status: string }[] }[] = [];
    void (async () => {
      for await (const e of eventsOf({ server: server.url, token: ADMIN }, '/api/events?repo=team%2Fapp', following.signal)) if (e.event === 'pipeline') heard.push(JSON.parse(e.data) as (typeof heard)[number]);
    })();
    await new Promise((r) => setTimeout(r, 300));

    // #1's interruptible build runs; a second push to main cancels it (the runner hears so at its heartbeat).
    await push({ '.gitlab-ci.yml': GITLAB }, 'First');
    const build1 = await lease('build');
    await push({ 'a.txt': '2\n' }, 'Second');
    const beat = await api<{ cancel: boolean }>(server.url, 'POST', `/api/runner/jobs/${build1.job.id}/heartbeat`, { lease: build1.lease.token }, runner);
    assert.equal(beat.body.cancel, true, 'the superseded job is told to stop');
    await complete(build1, 'cancelled');
    const p1 = await pipeline(1);
    assert.equal(p1.status, 'cancelled');
    for (let i = 0; i < 50 && !heard.some((h) => h.number === 1 && h.status === 'cancelled'); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(heard.some((h) => h.number === 1 && h.jobs.some((j) => j.name === 'build' && j.status === 'running')), JSON.stringify(heard));
    assert.ok(heard.some((h) => h.number === 1 && h.status === 'cancelled'), 'the stream tells of the cancel');
    assert.ok(heard.some((h) => h.number === 2), 'and of the newer pipeline');
    assert.match(p1.error ?? '', /superseded by a newer pipeline of refs\/heads\/main \(its running jobs are interruptible\)/);

    // #2: build succeeds, test fails.
    await complete(await lease('build'), 'succeeded');
    await complete(await lease('test'), 'failed');
    const p2 = await pipeline(2);
    assert.equal(p2.status, 'failed');

    // Only the failed jobs again: #3, with build carried over as it ended and test run again.
    const restarted = await api<Pipeline>(server.url, 'POST', '/api/repos/team%2Fapp/pipelines/2/restart', { failed_only: true });
    assert.equal(restarted.status, 201, JSON.stringify(restarted.body));
    assert.equal(restarted.body.number, 3);
    assert.deepEqual([restarted.body.trigger.cause, restarted.body.trigger.restartOf, restarted.body.trigger.commit], ['restart', 2, p2.trigger.commit]);
    assert.deepEqual(restarted.body.jobs.map((j) => [j.name, j.status]), [['build', 'succeeded'], ['test', 'queued']]);
    await complete(await lease('test'), 'succeeded');
    assert.equal((await pipeline(3)).status, 'succeeded');
    assert.equal((await pipeline(2)).status, 'failed', 'the old attempt is kept as it ended');

    // A whole restart runs every job again; restarting only the failed jobs of a running one is refused.
    const whole = await api<Pipeline>(server.url, 'POST', '/api/repos/team%2Fapp/pipelines/3/restart', {});
    assert.deepEqual(whole.body.jobs.map((j) => [j.name, j.status]), [['build', 'queued'], ['test', 'waiting']]);
    const refused = await api<{ code: string }>(server.url, 'POST', '/api/repos/team%2Fapp/pipelines/4/restart', { failed_only: true });
    assert.deepEqual([refused.status, refused.body.code], [409, 'NESTOR_PIPELINE_STILL_RUNNING']);

    // With the repository's auto-cancel, a non-interruptible running job is cancelled too.
    const build4 = await lease('build');
    await complete(build4, 'succeeded');
    const test4 = await lease('test');
    assert.equal((await api(server.url, 'PATCH', '/api/repos/team%2Fapp', { auto_cancel: true })).status, 200);
    await push({ 'a.txt': '3\n' }, 'Third');
    const beat4 = await api<{ cancel: boolean }>(server.url, 'POST', `/api/runner/jobs/${test4.job.id}/heartbeat`, { lease: test4.lease.token }, runner);
    assert.equal(beat4.body.cancel, true);
    await complete(test4, 'cancelled');
    assert.match((await pipeline(4)).error ?? '', /auto-cancel/);
  });
}

for (const kind of STORES) {
  test(`[${kind}] a GitLab resource_group runs one job at a time across the repository's pipelines, the next in order once it ends`, { timeout: 60_000 }, async () => {
    const server = await testServer(kind);
    after(() => server.close());
    const repo = new TestRepo();
    const added = await api<{ webhook: { path: string; secret: string } }>(server.url, 'POST', '/api/repos', { url: repo.url });
    const hook = `${server.url}${added.body.webhook.path}`;
    const runner = (await api<{ token: string }>(server.url, 'POST', '/api/runners/register', { name: 'r1', max_jobs: 4 }, REGISTRATION)).body.token;
    for (const message of ['one', 'two']) {
      const c = repo.commit({ '.gitlab-ci.yml': 'deploy:\n  resource_group: production\n  script: [echo deploy]\n', 'n.txt': `${message}\n` }, message);
      assert.equal((await deliver(hook, githubPush(added.body.webhook.secret, { ref: 'refs/heads/main', ...c, message }))).status, 201);
    }
    const lease = () => api<Leased>(server.url, 'POST', '/api/runner/lease', { wait_ms: 300 }, runner);
    const first = await lease();
    assert.equal(first.status, 200);
    assert.equal((await lease()).status, 204, 'the second deploy waits while the first runs, though the runner has room');
    assert.equal((await api(server.url, 'POST', `/api/runner/jobs/${first.body.job.id}/complete`, { lease: first.body.lease.token, status: 'succeeded', result: [] }, runner)).status, 200);
    const second = await lease();
    assert.equal(second.status, 200, 'its turn once the first ended');
    const p2 = (await api<{ jobs: { id: string }[] }>(server.url, 'GET', '/api/repos/team%2Fapp/pipelines/2')).body;
    assert.equal(second.body.job.id, p2.jobs[0]!.id, 'in the order the pipelines came');
  });
}
