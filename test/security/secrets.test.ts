import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { createHash, createHmac } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import pino from 'pino';
import { ImageSupply } from '../../src/engine/images/supply.ts';
import { startServer, type RunningServer } from '../../src/server/server.ts';
import { hostEngine } from '../helpers.ts';
import { ADMIN, REGISTRATION, api, tempDir } from '../server/harness.ts';
import { SHELL_FUNCTION, TestRepo, deploymentOf, manifest, removeFunctionImages } from '../gitops/fixture.ts';
import { gitHttpServer } from './git-http.ts';
import { legacyDatabase } from './legacy-store.ts';

// Canaries: none of these may show anywhere once the server has started on the old store.
const USER = 'deploy-bot';
const PASSWORD = 'Pw-7f3a9c-canary-in-url';
const HOOK = 'hook-4c1d-canary-webhook';
const REGISTRY = 'reg-9e2b-canary-registry';
const NEW_PASSWORD = 'api-5a8e-canary-new-url';
const NEW_REGISTRY = 'reg-6d0f-canary-put-registry';
const CANARIES = [PASSWORD, HOOK, REGISTRY, NEW_PASSWORD, NEW_REGISTRY, encodeURIComponent(PASSWORD), Buffer.from(`${USER}:${PASSWORD}`).toString('base64'), `${USER}:`];

const host = await hostEngine();
const dataDir = join(tempDir('nestor-secrets-'), 'data');
const logLines: string[] = [];
let supply: ImageSupply;
let server: RunningServer;
let serverClosed = false;
let git: Awaited<ReturnType<typeof gitHttpServer>>;
let repo: TestRepo;
let commit = '';
let cleanUrl = '';
const answers: string[] = [];

/** An API call whose answer is kept, to be searched for the canaries at the end. */
async function call<T = Record<string, unknown>>(method: string, path: string, body?: unknown, token = ADMIN) {
  const r = await api<T>(server.url, method, path, body, token);
  answers.push(`${method} ${path} → ${r.status} ${JSON.stringify(r.body)}`);
  return r;
}

function leaks(text: string): string[] {
  return CANARIES.filter((c) => text.includes(c));
}

/** Every file under `dir`, read as raw bytes: the database, its -wal and -shm, the Git caches, the key. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true }).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

function leaksInFiles(dir: string): string[] {
  const found: string[] = [];
  for (const file of filesUnder(dir)) {
    const raw = readFileSync(file).toString('latin1');
    for (const c of leaks(raw)) found.push(`${file}: ${c}`);
  }
  return found;
}

before(async () => {
  repo = new TestRepo();
  const text = manifest('shop', 'https://git.example.com/team/shop.git', `    - path: sealed\n`);
  commit = repo.commit('first', { 'nestor.yaml': text, 'sealed/Dockerfile': SHELL_FUNCTION('sealed') });
  git = await gitHttpServer(dirname(repo.origin), USER, PASSWORD);
  cleanUrl = `${git.base}/origin.git`;
  const urlWithPassword = `http://${USER}:${PASSWORD}@${git.base.slice('http://'.length)}/origin.git`;

  // The store as the version before this one wrote it: the password in the URL, every secret in
  // plain text, and the URL quoted in the last error and in a failed deployment's log.
  mkdirSync(dataDir, { recursive: true });
  const db = await legacyDatabase(join(dataDir, 'nestor.db'));
  const failed = `git ls-remote of ${urlWithPassword} failed: fatal: unable to access '${urlWithPassword}/': Could not resolve host`;
  await db.query(
    `INSERT INTO apps (namespace, name, repo_url, branch, path, webhook_secret, poll_interval_s, auto_sync, target, last_error, failures, next_poll_at, created_at)
     VALUES ('team', 'shop', $1, 'main', '.', $2, 60, 0, NULL, $3, 1, 0, 0)`,
    [urlWithPassword, HOOK, failed],
  );
  await db.query(`INSERT INTO deployments (namespace, app, seq, commit_sha, message, cause, status, functions, error, build_log, created_at, finished_at) VALUES ('team', 'shop', 1, $1, '', 'poll', 'failed', '[]', $2, $3, 0, 0)`, ['0'.repeat(40), failed, `[nestor] sync failed: ${failed}\n`]);
  await db.query('INSERT INTO registry_credentials (registry, username, secret, updated_at) VALUES ($1, $2, $3, 0)', ['registry.example.com', 'ci', REGISTRY]);
  await db.close();
  // …and its Git cache, fetched with the password in the URL (Git itself keeps it out of FETCH_HEAD).
  const cache = join(dataDir, 'gitops', 'repositories', createHash('sha256').update(urlWithPassword).digest('hex').slice(0, 24));
  execFileSync('git', ['init', '--quiet', '--bare', cache]);
  // Not execFileSync: the Git server answering it runs in this process.
  await promisify(execFile)('git', ['--git-dir', cache, 'fetch', '--quiet', '--', urlWithPassword, '+refs/heads/main:refs/heads/main']);
  assert.ok(leaksInFiles(dataDir).length >= 3, 'the old store holds the canaries: the test could catch a leak');

  supply = await ImageSupply.start(host);
  // No key given: the server makes DATA_DIR/secret.key at this first start with sealing.
  server = await startServer({
    port: 0,
    host: '127.0.0.1',
    dataDir,
    adminToken: ADMIN,
    registrationToken: REGISTRATION,
    logger: pino({ level: 'debug' }, { write: (line: string) => void logLines.push(line) }),
    gitops: { host, supply, tickMs: 200, buildWarm: 0, gitEnv: process.env },
  });
});

after(async () => {
  if (!serverClosed) await server?.close();
  await supply?.close();
  await git?.close();
  await removeFunctionImages(host);
});

test('an old store\'s secrets are sealed at start and shown nowhere: API answers, errors, build logs, SSE, the server log, the data directory', async () => {
  const user = (await call<{ token: string }>('POST', '/api/tokens', { name: 'mallory' })).body.token;

  // What any user sees of the application: the URL without its password, and no error quoting it.
  for (const token of [ADMIN, user]) {
    const list = await call<{ apps: { repo_url: string; repo_credentials: boolean; last_error: string | null; webhook_secret_set: boolean }[] }>('GET', '/api/apps', undefined, token);
    assert.equal(list.status, 200);
    assert.equal(list.body.apps[0]!.repo_url, cleanUrl);
    assert.equal(list.body.apps[0]!.repo_credentials, true);
    assert.equal(list.body.apps[0]!.webhook_secret_set, true);
    assert.match(list.body.apps[0]!.last_error ?? '', /git ls-remote of http:\/\/127\.0\.0\.1:\d+\/origin\.git failed/);
  }
  await call('GET', '/api/apps/team/shop/deployments/1');

  // The sealed webhook secret still checks the forge's signature; the sealed credentials still
  // log in to the repository, through Git's credential protocol.
  const body = JSON.stringify({ ref: 'refs/heads/main', after: commit, repository: { clone_url: cleanUrl } });
  const hook = await fetch(`${server.url}/api/webhooks/git`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': 'd-1', 'x-hub-signature-256': `sha256=${createHmac('sha256', HOOK).update(body).digest('hex')}` }, body });
  answers.push(await hook.text());
  assert.equal(hook.status, 202);
  const d = await deploymentOf(server.url, 'shop', commit);
  assert.equal(d.status, 'deployed', d.error ?? '');
  assert.ok(git.authorised() > 0, 'Git logged in with the credentials kept apart from the URL');
  await call('GET', '/api/apps/team/shop');
  await call('GET', `/api/apps/team/shop/deployments/${d.seq}`);
  await call('POST', '/api/apps/team/shop/sync', { force: false });

  // New credentials through the API, in the URL: kept apart at once; a wrong one fails without
  // the password in the answer, the error, or the log.
  const added = await call<{ repo_url: string }>('POST', '/api/apps', { name: 'other', namespace: 'team', repo_url: `http://${USER}:${NEW_PASSWORD}@${git.base.slice(7)}/origin.git`, auto_sync: false }, user);
  assert.equal(added.status, 201, JSON.stringify(added.body));
  assert.equal(added.body.repo_url, cleanUrl);
  const failed = await call<{ result: string; error: string }>('POST', '/api/apps/team/other/sync', {}, user);
  assert.equal(failed.body.result, 'failed');
  assert.match(failed.body.error, /Authentication failed/);
  await call('GET', '/api/apps/team/other', undefined, user);
  assert.equal((await call('PUT', '/api/registries/registry.example.com', { username: 'ci', password: NEW_REGISTRY })).status, 204);
  await call('GET', '/api/registries');

  // A job's live log stream (SSE) says nothing of them either.
  const job = await call<{ id: string }>('POST', '/api/jobs', { name: 'quiet', steps: [{ name: 's', run: 'true' }] });
  const chunks: string[] = [];
  try {
    const r = await fetch(`${server.url}/api/jobs/${job.body.id}/logs`, { headers: { authorization: `Bearer ${ADMIN}`, accept: 'text/event-stream' }, signal: AbortSignal.timeout(1500) });
    for await (const c of r.body!) chunks.push(Buffer.from(c).toString());
  } catch {
    // the timeout ends the stream of a job no runner takes
  }
  answers.push(chunks.join(''));

  assert.deepEqual(leaks(answers.join('\n')), [], 'no canary in any API answer');
  assert.deepEqual(leaks(logLines.join('')), [], 'no canary in the server log');
  assert.ok(logLines.some((l) => l.includes('sealed now')), 'the server says it sealed the old secrets');

  // The data directory is the server's alone, and its files hold no canary, also while it runs.
  assert.equal(statSync(dataDir).mode & 0o777, 0o700);
  for (const f of ['nestor.db', 'nestor.db-wal', 'nestor.db-shm', 'secret.key']) assert.equal(statSync(join(dataDir, f)).mode & 0o777, 0o600, f);
  assert.deepEqual(leaksInFiles(dataDir), []);
  serverClosed = true;
  await server.close();
  assert.deepEqual(leaksInFiles(dataDir), [], 'nor after the server stopped');
});
