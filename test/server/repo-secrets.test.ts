import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { api, REGISTRATION, STORES, testServer } from './harness.ts';
import { deliver, githubPullRequest, githubPush, TestRepo } from './repo-fixture.ts';

/**
 * Secrets and job tokens of repositories' jobs, on both stores, by the runner protocol (no
 * Docker here; test/server/repo-e2e.test.ts masks a secret in a real job's log): secrets are
 * write-only and sealed, given in the lease as their limits allow, never to a fork's pull
 * request, which waits for approval; a job's token reads its repository through the server's
 * Git endpoint and its pipeline's artifacts, nothing else, and only while the job runs.
 */
const WORKFLOW = `name: ci
on: [push, pull_request]
jobs:
  build:
    runs-on: ubuntu-latest
    env:
      DEPLOY: \${{ secrets.DEPLOY_TOKEN }}
    steps:
      - run: echo building
`;

type Leased = {
  job: { id: string; secrets?: Record<string, string>; secrets_withheld?: { name: string; why: string }[]; token?: { value: string; variables: Record<string, string> } };
  lease: { token: string };
};
type Pipeline = { id: string; number: number; status: string; waiting_for?: string; approved?: { by: string } };

/** git ls-remote of a URL, as a job's step would run it (not blocking: the server is in this process); its output, or git's message. */
async function lsRemote(url: string): Promise<string> {
  try {
    return (await promisify(execFile)('git', ['ls-remote', url], { encoding: 'utf8', env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: '/bin/false' } })).stdout;
  } catch (err) {
    throw new Error(String((err as { stderr?: string }).stderr ?? err));
  }
}

for (const kind of STORES) {
  test(`[${kind}] secrets are write-only and sealed, given by their limits; a job token reads its repository and its pipeline only, while it runs; a fork waits for approval and gets no secret`, { timeout: 90_000 }, async () => {
    const server = await testServer(kind);
    after(() => server.close());
    const repo = new TestRepo();
    const other = new TestRepo();
    const added = await api<{ webhook: { path: string; secret: string } }>(server.url, 'POST', '/api/repos', { url: repo.url });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    assert.equal((await api(server.url, 'POST', '/api/repos', { url: other.url, name: 'team/other' })).status, 201);
    const hook = `${server.url}${added.body.webhook.path}`;
    const secret = added.body.webhook.secret;
    const user = (await api<{ token: string }>(server.url, 'POST', '/api/tokens', { name: 'ada' })).body.token;
    assert.equal((await api(server.url, 'PUT', '/api/repos/team%2Fapp/members', { user: 'ada', role: 'maintain' })).status, 200);

    // Write-only: set, replaced, listed by name and limits; the value never comes back, and is sealed in the store.
    const set = await api<Record<string, unknown>>(server.url, 'PUT', '/api/repos/team%2Fapp/secrets/DEPLOY_TOKEN', { value: 'dt-first-value', branches: ['main'] }, user);
    assert.equal(set.status, 201, JSON.stringify(set.body));
    const replaced = await api<Record<string, unknown>>(server.url, 'PUT', '/api/repos/team%2Fapp/secrets/DEPLOY_TOKEN', { value: 'dt-0123456789-secret', branches: ['main', 'release/*'] }, user);
    assert.equal(replaced.status, 200);
    assert.deepEqual(replaced.body.branches, ['main', 'release/*']);
    const listed = await api<{ secrets: { name: string }[] }>(server.url, 'GET', '/api/repos/team%2Fapp/secrets', undefined, user);
    assert.deepEqual(listed.body.secrets.map((s) => s.name), ['DEPLOY_TOKEN']);
    assert.equal(JSON.stringify([set.body, replaced.body, listed.body]).includes('dt-0123456789-secret'), false, 'no answer holds the value');
    const [row] = await server.store.db.query<{ value: string }>("SELECT value FROM secrets WHERE name = 'DEPLOY_TOKEN'");
    assert.match(row!.value, /^nestor-sealed:v1:/);
    assert.equal(row!.value.includes('dt-0123456789'), false);
    // The server's own secrets are the admin's; a bad name is refused with what to do.
    assert.equal((await api(server.url, 'PUT', '/api/secrets/SHARED', { value: 'x1y2z3' }, user)).status, 403);
    assert.equal((await api(server.url, 'PUT', '/api/secrets/SHARED', { value: 'shared-0123456789', events: ['push'] })).status, 201);
    assert.equal((await api(server.url, 'PUT', '/api/secrets/ONLY_TAGS', { value: 'tags-0123456789', events: ['tag'] })).status, 201);
    const bad = await api<{ code: string; hint: string }>(server.url, 'PUT', '/api/repos/team%2Fapp/secrets/no-dashes', { value: 'v' }, user);
    assert.deepEqual([bad.status, bad.body.code], [422, 'NESTOR_SECRET_NAME_INVALID']);
    assert.equal((await api(server.url, 'DELETE', '/api/repos/team%2Fapp/secrets/NOPE', undefined, user)).status, 404);

    const first = repo.commit({ '.github/workflows/ci.yml': WORKFLOW }, 'Add CI');
    const created = await deliver(hook, githubPush(secret, { ref: 'refs/heads/main', ...first, message: 'Add CI' }));
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const runner = (await api<{ token: string }>(server.url, 'POST', '/api/runners/register', { name: 'r1', max_jobs: 2 }, REGISTRATION)).body.token;
    const lease = async () => api<Leased>(server.url, 'POST', '/api/runner/lease', { wait_ms: 1000 }, runner);

    // A push to main: the repository's secret and the server's push-only one; not the tag-only one, said why.
    const l1 = await lease();
    assert.equal(l1.status, 200);
    assert.deepEqual(l1.body.job.secrets, { DEPLOY_TOKEN: 'dt-0123456789-secret', SHARED: 'shared-0123456789' });
    assert.deepEqual(l1.body.job.secrets_withheld?.map((w) => w.name), ['ONLY_TAGS']);
    const token = l1.body.job.token!;
    assert.match(token.value, /^njt_/);
    assert.equal(token.variables.NESTOR_GIT_URL, `${server.url}/git/team/app.git`);

    // The job token reads its own repository through the server's Git endpoint, not another one.
    const withToken = (url: string, t: string) => url.replace('://', `://nestor:${t}@`);
    assert.match(await lsRemote(withToken(token.variables.NESTOR_GIT_URL!, token.value)), new RegExp(`^${first.after}\\s+refs/heads/main$`, 'm'));
    await assert.rejects(lsRemote(withToken(`${server.url}/git/team/other.git`, token.value)), /403|reads that repository only/);
    await assert.rejects(lsRemote(`${server.url}/git/team/app.git`), /Authentication failed|401|could not read Username/, 'no token, no read');
    const forged = `${token.value.slice(0, -4)}AAAA`;
    await assert.rejects(lsRemote(withToken(token.variables.NESTOR_GIT_URL!, forged)), /Authentication failed|401/);
    // And its own pipeline's artifacts, not another pipeline's.
    const p1 = (await api<{ pipelines: Pipeline[] }>(server.url, 'GET', '/api/repos/team%2Fapp/pipelines')).body.pipelines[0]!;
    assert.equal((await api(server.url, 'GET', `/api/pipelines/${p1.id}/artifacts`, undefined, token.value)).status, 200);
    assert.equal((await api(server.url, 'GET', '/api/repos', undefined, token.value)).status, 401, 'a job token is no API token');

    // A pull request from a fork waits for approval; nothing of it is leased before.
    const forkHead = repo.commit({ 'src/evil.txt': 'read the secrets\n' }, 'Harmless change', 'feature');
    // As GitHub keeps a pull request's head (a fork's too) in the base repository.
    repo.git(['push', '--quiet', 'origin', 'feature:refs/pull/7/head']);
    const pr = await deliver(hook, githubPullRequest(secret, { number: 7, action: 'opened', head: forkHead.after, headBranch: 'feature', base: 'main', baseSha: first.after, fork: true }));
    assert.equal(pr.status, 201, JSON.stringify(pr.body));
    const held = await api<Pipeline>(server.url, 'GET', '/api/repos/team%2Fapp/pipelines/2');
    assert.deepEqual([held.body.status, held.body.waiting_for], ['waiting', 'approval']);
    assert.equal((await lease()).status, 204, 'a held pipeline gives no job');
    const approved = await api<Pipeline>(server.url, 'POST', '/api/repos/team%2Fapp/pipelines/2/approve', undefined, user);
    assert.equal(approved.status, 200, JSON.stringify(approved.body));
    assert.deepEqual([approved.body.status, approved.body.approved?.by], ['running', 'ada']);
    assert.equal((await api(server.url, 'POST', '/api/repos/team%2Fapp/pipelines/2/approve', undefined, user)).status, 409, 'approved once');
    const l2 = await lease();
    assert.equal(l2.status, 200);
    assert.deepEqual(l2.body.job.secrets, {}, 'a fork gets no secret');
    assert.deepEqual(l2.body.job.secrets_withheld?.map((w) => w.name).sort(), ['DEPLOY_TOKEN', 'ONLY_TAGS', 'SHARED']);
    assert.match(l2.body.job.secrets_withheld!.find((w) => w.name === 'DEPLOY_TOKEN')!.why, /fork/);
    // The fork's job token cannot read the first pipeline's artifacts.
    assert.equal((await api(server.url, 'GET', `/api/pipelines/${p1.id}/artifacts`, undefined, l2.body.job.token!.value)).status, 403);

    // The token ends with its job.
    assert.equal((await api(server.url, 'POST', `/api/runner/jobs/${l1.body.job.id}/complete`, { lease: l1.body.lease.token, status: 'succeeded', result: [] }, runner)).status, 200);
    await assert.rejects(lsRemote(withToken(token.variables.NESTOR_GIT_URL!, token.value)), /Authentication failed|401/);
    assert.equal((await api(server.url, 'GET', `/api/pipelines/${p1.id}/artifacts`, undefined, token.value)).status, 401);
  });
}
