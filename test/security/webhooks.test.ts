import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, test } from 'node:test';
import { hostEngine } from '../helpers.ts';
import { api, resetPostgres } from '../server/harness.ts';
import { SECRET, SHELL_FUNCTION, TestRepo, deploymentOf, gitopsServer, manifest } from '../gitops/fixture.ts';

// Two servers on one PostgreSQL: a delivery processed by one is known to the other.
const host = await hostEngine();
let a: Awaited<ReturnType<typeof gitopsServer>>;
let b: Awaited<ReturnType<typeof gitopsServer>>;
const logA: string[] = [];

before(async () => {
  const url = await resetPostgres();
  a = await gitopsServer(host, { buildWarm: 0 }, { write: (l: string) => void logA.push(l) }, url);
  b = await gitopsServer(host, { buildWarm: 0 }, undefined, url);
});
after(async () => {
  await a?.close();
  await b?.close();
});

function delivery(repo: string, commit: string, id: string | undefined, secret = SECRET) {
  const body = JSON.stringify({ ref: 'refs/heads/main', after: commit, repository: { clone_url: `file://${repo}` } });
  const headers: Record<string, string> = { 'content-type': 'application/json', 'x-github-event': 'push', 'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}` };
  if (id) headers['x-github-delivery'] = id;
  return { body, headers };
}

async function send(base: string, d: { body: string; headers: Record<string, string> }) {
  const res = await fetch(`${base}/api/webhooks/git`, { method: 'POST', headers: d.headers, body: d.body });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function deployments(base: string, app: string): Promise<{ seq: number; commit: string }[]> {
  return (await api<{ deployments: { seq: number; commit: string }[] }>(base, 'GET', `/api/apps/team/${app}/deployments`)).body.deployments;
}

test('a delivery sent again (same id, or the same signed body under a new id) is answered "already processed" and runs nothing, on any server', async () => {
  const repo = new TestRepo();
  const text = manifest('replay', repo.origin, `    - path: replay\n`);
  const c1 = repo.commit('first', { 'nestor.yaml': text, 'replay/Dockerfile': SHELL_FUNCTION('one') });
  assert.equal((await api(a.server.url, 'POST', '/api/apps', { manifest: text, webhook_secret: SECRET, auto_sync: false })).status, 201);

  // The forge's first attempt was lost in an outage: its "redeliver" is the first that arrives, and runs.
  const first = delivery(repo.origin, c1, 'delivery-1');
  const accepted = await send(a.server.url, first);
  assert.equal(accepted.status, 202, JSON.stringify(accepted.body));
  assert.deepEqual(accepted.body.synced, ['team/replay']);
  assert.equal((await deploymentOf(a.server.url, 'replay', c1)).status, 'deployed');

  // The branch moves on without a webhook: a replay that ran a sync would deploy c2.
  repo.commit('second', { 'replay/Dockerfile': SHELL_FUNCTION('two') });
  for (const [server, d, what] of [
    [a, first, 'the same delivery again'],
    [b, first, 'the same delivery, at the other server'],
    [b, delivery(repo.origin, c1, 'delivery-forged-id'), 'the same signed body under a new delivery id'],
    [a, delivery(repo.origin, c1, undefined), 'the same signed body without a delivery id'],
  ] as const) {
    const again = await send(server.server.url, d);
    assert.equal(again.status, 200, `${what}: ${JSON.stringify(again.body)}`);
    assert.equal(again.body.result, 'already processed', what);
    assert.deepEqual(again.body.synced, [], what);
  }
  await new Promise((r) => setTimeout(r, 1500));
  assert.deepEqual((await deployments(a.server.url, 'replay')).map((d) => d.commit), [c1], 'one sync ran, for the first delivery only');
  await api(a.server.url, 'DELETE', '/api/apps/team/replay');
});

test('an unsigned (or wrongly signed) webhook gets the same answer whether or not the repository is watched, and is logged', async () => {
  const watched = new TestRepo();
  const text = manifest('watched', watched.origin, `    - path: watched\n`);
  const c1 = watched.commit('first', { 'nestor.yaml': text, 'watched/Dockerfile': SHELL_FUNCTION('w') });
  await api(a.server.url, 'POST', '/api/apps', { manifest: text, webhook_secret: SECRET, auto_sync: false });
  const unknown = new TestRepo();

  const answers = [];
  for (const repo of [watched.origin, unknown.origin]) {
    for (const secret of ['not-the-secret', undefined]) {
      const d = delivery(repo, c1, `unsigned-${answers.length}`, secret ?? 'x');
      if (!secret) delete d.headers['x-hub-signature-256'];
      answers.push(await send(a.server.url, d));
    }
  }
  for (const r of answers) {
    assert.equal(r.status, 401);
    assert.deepEqual(r.body, answers[0]!.body, 'the same body for a watched and an unknown repository');
  }
  assert.equal(answers[0]!.body.code, 'NESTOR_WEBHOOK_SIGNATURE');
  assert.deepEqual(await deployments(a.server.url, 'watched'), [], 'nothing ran');
  const refusals = logA.filter((l) => l.includes('webhook refused'));
  assert.ok(refusals.length >= 4 && refusals.every((l) => JSON.parse(l).level === 40), 'each refusal is logged at warn');
  // Refusals claim nothing: the same delivery, signed, still runs.
  const signed = await send(a.server.url, delivery(watched.origin, c1, 'unsigned-0'));
  assert.equal(signed.status, 202, JSON.stringify(signed.body));
  assert.equal((await deploymentOf(a.server.url, 'watched', c1)).status, 'deployed');
  await api(a.server.url, 'DELETE', '/api/apps/team/watched');
});
