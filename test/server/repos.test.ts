import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { api, REGISTRATION, STORES, testServer } from './harness.ts';
import { deliver, githubPush, TestRepo } from './repo-fixture.ts';
import { startRecordingForge } from '../support/recording-forge.ts';

/**
 * A repository connected to the server, on both stores, with a real Git repository (file://)
 * and a real HTTP server standing in for the forge: webhooks are checked and deduplicated, each
 * push becomes a numbered pipeline of the repository's own workflow, path filters compare with
 * the push's previous commit, and the commit status reaches the forge as the pipeline runs.
 * Jobs are run by speaking the runner protocol (no Docker here; test/server/repo-e2e.test.ts runs them on engines).
 */
const WORKFLOW = `name: ci
on:
  push:
    branches: [main]
    tags: ['v*']
    paths-ignore: ['docs/**']
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: echo building
  test:
    needs: build
    runs-on: ubuntu-latest
    steps:
      - run: echo testing
`;

type Pipeline = { id: string; number: number; status: string; trigger: { event: string; commit: string; message: string; author: string; branch?: string; tag?: string }; error: string | null; jobs?: { name: string; status: string }[] };
type Leased = { job: { id: string; spec: { job?: string } }; lease: { token: string } };

for (const kind of STORES) {
  test(`[${kind}] a connected repository: signed pushes make numbered pipelines of its own files, statuses reach the forge`, { timeout: 90_000 }, async () => {
    const forge = await startRecordingForge();
    const server = await testServer(kind);
    after(async () => {
      await server.close();
      await forge.close();
    });
    const repo = new TestRepo();

    // Only the admin adds a repository from the server's own disk, or marks one trusted.
    const user = (await api<{ token: string }>(server.url, 'POST', '/api/tokens', { name: 'ada' })).body.token;
    const byUser = await api(server.url, 'POST', '/api/repos', { url: repo.url }, user);
    assert.equal(byUser.status, 403, JSON.stringify(byUser.body));
    const added = await api<{ name: string; webhook: { path: string; secret: string } }>(server.url, 'POST', '/api/repos', { url: repo.url, forge: { kind: 'github', api_url: forge.url, token: 'ghp_statustoken' } });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    assert.equal(added.body.name, 'team/app');
    const hook = `${server.url}${added.body.webhook.path}`;
    const secret = added.body.webhook.secret;
    // With a forge token the webhook is added on the forge, in its documented shape, with the secret.
    const made = forge.calls.find((c) => c.path === '/repos/team/app/hooks')!;
    assert.ok(made, JSON.stringify(forge.calls.map((c) => c.path)));
    assert.deepEqual([made.body.name, made.body.events, (made.body.config as Record<string, string>).secret, (made.body.config as Record<string, string>).url], ['web', ['push', 'pull_request'], secret, `${server.url}/api/repos/team%2Fapp/hooks`]);
    assert.equal(made.headers.authorization, 'Bearer ghp_statustoken');
    assert.deepEqual((added.body.webhook as { on_forge?: unknown }).on_forge, { created: true, id: '1' });
    const shown = await api<Record<string, unknown>>(server.url, 'GET', '/api/repos/team%2Fapp');
    assert.equal(JSON.stringify(shown.body).includes(secret), false, 'the webhook secret is shown once, never again');
    assert.equal(JSON.stringify(shown.body).includes('ghp_statustoken'), false, 'nor the forge token');
    const again = await api(server.url, 'POST', '/api/repos', { url: repo.url });
    assert.equal(again.status, 409);

    const first = repo.commit({ '.github/workflows/ci.yml': WORKFLOW, 'src/app.txt': 'one\n' }, 'Add CI');
    const push = githubPush(secret, { ref: 'refs/heads/main', ...first, message: 'Add CI' });

    // A forged delivery (signed with another secret) is refused and changes nothing.
    const forged = await deliver(hook, { ...githubPush('not-the-secret', { ref: 'refs/heads/main', ...first, message: 'Add CI' }) });
    assert.equal(forged.status, 401);
    assert.equal(forged.body.code, 'NESTOR_WEBHOOK_SIGNATURE');
    const unknown = await deliver(`${server.url}/api/repos/team%2Fother/hooks`, push);
    assert.equal(unknown.status, 401, 'an unknown repository is answered as a bad signature: nothing is learnt');
    assert.equal((await api<{ pipelines: unknown[] }>(server.url, 'GET', '/api/pipelines')).body.pipelines.length, 0);

    const created = await deliver(hook, push);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.deepEqual([created.body.result, created.body.number, created.body.jobs], ['created', 1, 2]);
    // The same delivery again (a forge's retry) runs nothing.
    const replay = await deliver(hook, push);
    assert.deepEqual([replay.status, replay.body.result], [200, 'already processed']);

    const listed = await api<{ pipelines: Pipeline[] }>(server.url, 'GET', '/api/repos/team%2Fapp/pipelines');
    assert.equal(listed.body.pipelines.length, 1);
    const p1 = listed.body.pipelines[0]!;
    assert.deepEqual([p1.number, p1.status, p1.trigger.event, p1.trigger.branch, p1.trigger.commit, p1.trigger.message, p1.trigger.author], [1, 'running', 'push', 'main', first.after, 'Add CI', 'Ada Tester']);
    const pending = await forge.waitFor((c) => c.path === `/repos/team/app/statuses/${first.after}`, 10_000);
    assert.equal(pending.headers.authorization, 'Bearer ghp_statustoken');
    assert.deepEqual([pending.body.state, pending.body.context], ['pending', 'nestor/ci']);
    assert.match(String(pending.body.target_url), /\/api\/repos\/team%2Fapp\/pipelines\/1$/);

    // A change only under docs/ is filtered out by paths-ignore, against the push's previous commit.
    const docs = repo.commit({ 'docs/readme.md': 'hello\n' }, 'Docs only');
    const filtered = await deliver(hook, githubPush(secret, { ref: 'refs/heads/main', ...docs, message: 'Docs only' }));
    assert.deepEqual([filtered.status, filtered.body.result], [200, 'no pipeline'], JSON.stringify(filtered.body));
    // [skip ci] in the message runs nothing.
    const skipped = repo.commit({ 'src/app.txt': 'two\n' }, 'Tidy up [skip ci]');
    const skip = await deliver(hook, githubPush(secret, { ref: 'refs/heads/main', ...skipped, message: 'Tidy up [skip ci]' }));
    assert.deepEqual([skip.status, skip.body.result], [200, 'skipped']);

    // Queued with no runner to take it: the pipeline says so.
    const waiting = await api<{ jobs: { name: string; waiting_reason?: string }[] }>(server.url, 'GET', '/api/repos/team%2Fapp/pipelines/1');
    assert.match(waiting.body.jobs.find((j) => j.name === 'build')!.waiting_reason ?? '', /no runner is registered/);
    const unknownBadge = await fetch(`${server.url}/api/repos/team%2Fapp/badge.svg`);
    assert.match(await unknownBadge.text(), /nestor: unknown/);

    // The runner protocol runs the jobs: build, then test; the forge hears running, then success.
    const token = (await api<{ token: string }>(server.url, 'POST', '/api/runners/register', { name: 'r1', max_jobs: 2 }, REGISTRATION)).body.token;
    const runOne = async (expected: string) => {
      const l = await api<Leased>(server.url, 'POST', '/api/runner/lease', { wait_ms: 2000 }, token);
      assert.equal(l.status, 200, `job ${expected} is queued`);
      assert.equal(l.body.job.spec.job, expected);
      const done = await api(server.url, 'POST', `/api/runner/jobs/${l.body.job.id}/complete`, { lease: l.body.lease.token, status: 'succeeded', result: [] }, token);
      assert.equal(done.status, 200);
    };
    await runOne('build');
    await forge.waitFor((c) => c.body.state === 'pending' && String(c.body.description).includes('running'), 10_000);
    await runOne('test');
    const success = await forge.waitFor((c) => c.body.state === 'success', 10_000);
    assert.equal(success.path, `/repos/team/app/statuses/${first.after}`);
    const shownP1 = await api<Pipeline>(server.url, 'GET', '/api/repos/team%2Fapp/pipelines/1');
    assert.equal(shownP1.body.status, 'succeeded');
    assert.deepEqual(shownP1.body.jobs!.map((j) => [j.name, j.status]), [['build', 'succeeded'], ['test', 'succeeded']]);
    // The branch's badge, read without a token (a README's image), says the last pipeline passed.
    const badge = await fetch(`${server.url}/api/repos/team%2Fapp/badge.svg?branch=main`);
    assert.equal(badge.headers.get('content-type'), 'image/svg+xml');
    assert.match(await badge.text(), /<svg[^>]+aria-label="nestor: passing"/);

    // A tag push is a tag pipeline, #2; a broken workflow file is a failed pipeline saying where, #3.
    const tagged = repo.tag('v1.0.0');
    const tag = await deliver(hook, githubPush(secret, { ref: 'refs/tags/v1.0.0', before: '0'.repeat(40), after: tagged, message: 'Tidy up [skip ci]'.replace(' [skip ci]', '') }));
    assert.deepEqual([tag.status, tag.body.number], [201, 2], JSON.stringify(tag.body));
    const broken = repo.commit({ '.github/workflows/ci.yml': WORKFLOW.replace('runs-on: ubuntu-latest\n    steps:\n      - run: echo testing', 'runs-on: ubuntu-latest\n    stepz: []') }, 'Break CI');
    const bad = await deliver(hook, githubPush(secret, { ref: 'refs/heads/main', ...broken, message: 'Break CI' }));
    assert.deepEqual([bad.status, bad.body.number], [201, 3], JSON.stringify(bad.body));
    const p3 = await api<Pipeline>(server.url, 'GET', '/api/repos/team%2Fapp/pipelines/3');
    assert.equal(p3.body.status, 'failed');
    assert.match(p3.body.error ?? '', /\.github\/workflows\/ci\.yml:\d+:\d+/);
    assert.match(p3.body.error ?? '', /stepz/);
    await forge.waitFor((c) => c.path === `/repos/team/app/statuses/${broken.after}` && c.body.state === 'failure', 10_000);

    // Newest first, filtered by event, with a cursor.
    const all = await api<{ pipelines: Pipeline[]; next: string | null }>(server.url, 'GET', '/api/pipelines?limit=2');
    assert.deepEqual(all.body.pipelines.map((p) => p.number), [3, 2]);
    const rest = await api<{ pipelines: Pipeline[] }>(server.url, 'GET', `/api/pipelines?limit=2&before=${all.body.next}`);
    assert.deepEqual(rest.body.pipelines.map((p) => p.number), [1]);
    const tags = await api<{ pipelines: Pipeline[] }>(server.url, 'GET', '/api/pipelines?event=tag');
    assert.deepEqual(tags.body.pipelines.map((p) => [p.number, p.trigger.tag]), [[2, 'v1.0.0']]);
  });
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

for (const kind of STORES) {
  test(`[${kind}] a repository without a webhook is polled: a moved branch and a new tag run, nothing else does, a webhook's push is not run twice`, { timeout: 60_000 }, async () => {
    const server = await testServer(kind);
    after(() => server.close());
    const repo = new TestRepo();
    repo.commit({ '.github/workflows/ci.yml': WORKFLOW }, 'First');
    const added = await api<{ webhook: { path: string; secret: string } }>(server.url, 'POST', '/api/repos', { url: repo.url, poll_interval_s: 60 });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    type Shown = { poll: { refs_seen: number | null; next_at: string | null } };
    // The first poll records what is there, and runs nothing.
    await until('the first poll', async () => ((await api<Shown>(server.url, 'GET', '/api/repos/team%2Fapp')).body.poll.refs_seen === 1 ? true : undefined));
    const pipelines = async () => (await api<{ pipelines: Pipeline[] }>(server.url, 'GET', '/api/repos/team%2Fapp/pipelines')).body.pipelines;
    assert.equal((await pipelines()).length, 0);
    const next = Date.parse((await api<Shown>(server.url, 'GET', '/api/repos/team%2Fapp')).body.poll.next_at!);
    assert.ok(next > Date.now() && next <= Date.now() + 66_000, 'the next poll is within a jittered interval');

    const second = repo.commit({ 'src/a.txt': 'a\n' }, 'Second change');
    assert.equal((await api(server.url, 'POST', '/api/repos/team%2Fapp/poll')).status, 202);
    const [p1] = await until('the polled push', async () => ((await pipelines()).length === 1 ? pipelines() : undefined));
    assert.deepEqual([p1!.trigger.event, p1!.trigger.commit, p1!.trigger.message, (p1!.trigger as { cause?: string }).cause, (p1!.trigger as { before?: string }).before], ['push', second.after, 'Second change', 'poll', second.before]);

    repo.tag('v2.0.0');
    await api(server.url, 'POST', '/api/repos/team%2Fapp/poll');
    const withTag = await until('the polled tag', async () => ((await pipelines()).length === 2 ? pipelines() : undefined));
    assert.deepEqual([withTag[0]!.trigger.event, withTag[0]!.trigger.tag], ['tag', 'v2.0.0']);

    // A push the webhook told of is not made again by the poll; a poll with nothing new makes nothing.
    const third = repo.commit({ 'src/b.txt': 'b\n' }, 'Third');
    const hooked = await deliver(`${server.url}${added.body.webhook.path}`, githubPush(added.body.webhook.secret, { ref: 'refs/heads/main', ...third, message: 'Third' }));
    assert.equal(hooked.status, 201, JSON.stringify(hooked.body));
    for (let i = 0; i < 2; i++) {
      await api(server.url, 'POST', '/api/repos/team%2Fapp/poll');
      await until('the poll', async () => ((await api<Shown>(server.url, 'GET', '/api/repos/team%2Fapp')).body.poll.next_at !== new Date(0).toISOString() ? true : undefined));
      await new Promise((r) => setTimeout(r, 300));
    }
    assert.equal((await pipelines()).length, 3, 'three pipelines: the polled push, the tag, the webhook\'s push');
  });
}

const SCHEDULED = `name: nightly
on:
  push:
    branches: [main]
  schedule:
    - cron: '0 3 * * *'
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - run: echo \${{ github.event_name }}
`;

for (const kind of STORES) {
  test(`[${kind}] cron schedules, the repository's own and its files', run by a clock the test moves: once each when due, a missed one once`, { timeout: 60_000 }, async () => {
    let clock = Date.parse('2026-12-03T02:58:00Z');
    const server = await testServer(kind, { now: () => clock });
    after(() => server.close());
    const repo = new TestRepo();
    const added = await api<{ webhook: { path: string; secret: string } }>(server.url, 'POST', '/api/repos', { url: repo.url });
    const pushed = repo.commit({ '.github/workflows/nightly.yml': SCHEDULED }, 'Nightly build');
    const hook = await deliver(`${server.url}${added.body.webhook.path}`, githubPush(added.body.webhook.secret, { ref: 'refs/heads/main', ...pushed, message: 'Nightly build' }));
    assert.equal(hook.status, 201, JSON.stringify(hook.body));
    const bad = await api(server.url, 'POST', '/api/repos/team%2Fapp/crons', { name: 'broken', cron: 'every day at 3' });
    assert.deepEqual([bad.status, (bad.body as { code?: string }).code], [422, 'NESTOR_CRON_INVALID']);
    const set = await api<{ next_run_at: string }>(server.url, 'POST', '/api/repos/team%2Fapp/crons', { name: 'nightly', cron: '30 3 * * *' });
    assert.equal(set.status, 201, JSON.stringify(set.body));
    assert.equal(set.body.next_run_at, '2026-12-03T03:30:00.000Z');
    type Cron = { name: string; source: string; next_run_at: string };
    const crons = (await api<{ crons: Cron[] }>(server.url, 'GET', '/api/repos/team%2Fapp/crons')).body.crons;
    assert.deepEqual(crons.map((c) => [c.name, c.source, c.next_run_at]), [['nightly', 'api', '2026-12-03T03:30:00.000Z'], ['schedule 0 3 * * *', 'file', '2026-12-03T03:00:00.000Z']], 'the workflow\'s on.schedule is read from the default branch');

    const cronPipelines = async () => (await api<{ pipelines: (Pipeline & { trigger: { cron?: string } })[] }>(server.url, 'GET', '/api/pipelines?event=cron')).body.pipelines.map((p) => p.trigger.cron);
    await server.runDueSchedules();
    assert.deepEqual(await cronPipelines(), [], 'nothing is due at 02:58');
    clock = Date.parse('2026-12-03T03:00:30Z');
    await server.runDueSchedules();
    await server.runDueSchedules();
    assert.deepEqual(await cronPipelines(), ['schedule 0 3 * * *'], 'due at 03:00, run once');
    clock = Date.parse('2026-12-03T03:31:00Z');
    await server.runDueSchedules();
    assert.deepEqual(await cronPipelines(), ['nightly', 'schedule 0 3 * * *']);
    const p = (await api<{ pipelines: Pipeline[] }>(server.url, 'GET', '/api/pipelines?event=cron&limit=1')).body.pipelines[0]!;
    assert.deepEqual([p.trigger.commit, p.trigger.branch, p.trigger.message], [pushed.after, 'main', 'Nightly build'], 'a cron pipeline runs the branch\'s head');
    // Three days pass with the server down: each schedule runs once, then keeps its time.
    clock = Date.parse('2026-12-06T12:00:00Z');
    await server.runDueSchedules();
    await server.runDueSchedules();
    assert.equal((await cronPipelines()).length, 4);
    const after3 = (await api<{ crons: Cron[] }>(server.url, 'GET', '/api/repos/team%2Fapp/crons')).body.crons;
    assert.deepEqual(after3.map((c) => c.next_run_at), ['2026-12-07T03:30:00.000Z', '2026-12-07T03:00:00.000Z']);
    assert.equal((await api(server.url, 'DELETE', '/api/repos/team%2Fapp/crons/nightly')).status, 204);
  });
}
