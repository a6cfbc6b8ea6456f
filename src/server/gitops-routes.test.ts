import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { FunctionGateway } from '../functions/gateway.ts';
import type { FunctionBuilder } from '../gitops/builder.ts';
import { GitopsController } from '../gitops/controller.ts';
import { TargetClients, type AppEngines } from '../gitops/targets.ts';
import type { EngineClient } from '../engine/engine-client.ts';

/** The builder here is a stand-in that builds nothing, so no engine is asked for anything. */
const noEngines: AppEngines = { client: async () => ({}) as EngineClient, resize: async () => undefined, retire: async () => undefined };
import { SecretBox } from '../secrets/secret-box.ts';
import { TestRepo, manifest } from '../../test/gitops/fixture.ts';
import { buildApp } from './app.ts';
import { GitopsStore } from '../gitops/store.ts';
import { Store } from './store/store.ts';
import { WebhookDeliveries } from '../gitops/webhook-deliveries.ts';

// The GitOps routes on a real store and controller, without an engine: the builder only counts
// the builds it is asked for, so a webhook that runs a sync shows as one more build.
const ADMIN = 'nst_adm_routes-test-admin-token-000';
const SECRET = 'routes-test-webhook-secret';
let app: FastifyInstance;
let store: Store;
let controller: GitopsController;
let builds = 0;
const logs: string[] = [];

before(async () => {
  store = await Store.open({ file: ':memory:' });
  await store.addToken('admin', 'admin', ADMIN);
  const gitopsStore = new GitopsStore(store.db, new SecretBox(Buffer.alloc(32, 1)));
  const builder = {
    warm() {},
    async build() {
      builds++;
      throw new Error('no engine in this test');
    },
  } as unknown as FunctionBuilder;
  const gateway = new FunctionGateway();
  controller = new GitopsController({ store: gitopsStore, builder, gateway, targets: new TargetClients(noEngines), dataDir: mkdtempSync(join(tmpdir(), 'nestor-routes-')), logger: pino({ level: 'silent' }), localRepoRoots: [tmpdir()], tickMs: 60_000, gitEnv: process.env });
  const logger = pino({ level: 'debug' }, { write: (l: string) => void logs.push(l) });
  ({ app } = await buildApp({ store, logger, leaseMs: 30_000, gitops: { controller, gateway, store: gitopsStore, deliveries: new WebhookDeliveries(store.db) } }));
});
after(async () => {
  await controller.stop();
  await app.close();
  await store.close();
});

async function call(method: string, url: string, body?: unknown, token = ADMIN) {
  const r = await app.inject({ method: method as 'GET', url, headers: { authorization: `Bearer ${token}` }, ...(body ? { payload: body as Record<string, unknown> } : {}) });
  return { status: r.statusCode, body: r.json() as Record<string, unknown> };
}

function push(repo: string, commit: string, headers: Record<string, string> = {}, secret: string | null = SECRET) {
  const payload = JSON.stringify({ ref: 'refs/heads/main', after: commit, repository: { clone_url: `file://${repo}` } });
  const signature = secret ? { 'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(payload).digest('hex')}` } : {};
  return app.inject({ method: 'POST', url: '/api/webhooks/git', headers: { 'content-type': 'application/json', 'x-github-event': 'push', ...signature, ...headers }, payload });
}

async function settled(): Promise<void> {
  await new Promise((r) => setTimeout(r, 300));
  await controller.sync('team', 'hooked', 'manual').catch(() => undefined); // waits for the sync a webhook started
}

test('a user token is refused a local repository and a deploy target; the admin is not', async () => {
  const user = (await call('POST', '/api/tokens', { name: 'u' })).body.token as string;
  const local = { name: 'loc', namespace: 'team', repo_url: join(tmpdir(), 'x.git'), auto_sync: false };
  assert.equal((await call('POST', '/api/apps', local, user)).body.code, 'NESTOR_ADMIN_ONLY');
  const targeted = { name: 'tgt', namespace: 'team', repo_url: 'https://git.example.com/a.git', auto_sync: false, target: { host: 'ssh://u@h' } };
  const r = await call('POST', '/api/apps', targeted, user);
  assert.equal(r.status, 403);
  assert.match(String(r.body.hint), /without `target`/);
  assert.equal((await call('POST', '/api/apps', local)).status, 201);
  assert.equal((await call('POST', '/api/apps', targeted)).status, 201);
  assert.equal((await call('POST', '/api/apps', { ...local, name: 'etc', repo_url: '/etc' })).body.code, 'NESTOR_REPO_OUTSIDE_ROOTS');
});

test('webhooks: a replay runs nothing; an unsigned one is answered alike for a watched and an unknown repository', async () => {
  const repo = new TestRepo();
  const c1 = repo.commit('one', { 'nestor.yaml': manifest('hooked', repo.origin, '    - path: h\n'), 'h/Dockerfile': 'FROM busybox\n' });
  assert.equal((await call('POST', '/api/apps', { name: 'hooked', namespace: 'team', repo_url: repo.origin, auto_sync: false, webhook_secret: SECRET })).status, 201);

  assert.equal((await push(repo.origin, c1, { 'x-github-delivery': 'one' })).statusCode, 202);
  await settled();
  assert.equal(builds, 1);
  repo.commit('two', { 'h/Dockerfile': 'FROM busybox:latest\n' });
  for (const headers of [{ 'x-github-delivery': 'one' }, { 'x-github-delivery': 'other-id' }, {}] as Record<string, string>[]) {
    const again = await push(repo.origin, c1, headers);
    assert.equal(again.statusCode, 200);
    assert.equal(again.json().result, 'already processed');
  }
  await new Promise((r) => setTimeout(r, 300));
  assert.equal(builds, 1, 'no replay ran a sync');

  const unknown = new TestRepo();
  const answers = await Promise.all([push(repo.origin, c1, {}, 'wrong'), push(repo.origin, c1, {}, null), push(unknown.origin, c1, {}, 'wrong'), push(unknown.origin, c1, {}, null)]);
  for (const a of answers) {
    assert.equal(a.statusCode, 401);
    assert.equal(a.body, answers[0]!.body);
  }
  assert.equal(logs.filter((l) => l.includes('webhook refused') && JSON.parse(l).level === 40).length, 4);
});
