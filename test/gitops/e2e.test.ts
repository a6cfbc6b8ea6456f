import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { hostEngine } from '../helpers.ts';
import { ADMIN, api } from '../server/harness.ts';
import { SECRET, SHELL_FUNCTION, TestRepo, deploymentOf, giteaPush, githubPush, gitopsServer, invoke, manifest } from './fixture.ts';

const host = await hostEngine();
let env: Awaited<ReturnType<typeof gitopsServer>>;
let base = '';
before(async () => {
  env = await gitopsServer(host);
  base = env.server.url;
});
after(async () => env?.close());

const HELLO = (keep = 2) =>
  manifest('shop', '__REPO__', `    - path: hello\n      context: functions/hello\n      timeout: 5s\n`, `  keepImages: ${keep}\n`);

test('commit → webhook → built in a nested engine, deployed, invocable; a broken commit fails and the old version answers; rollback; retention prunes', async () => {
  const repo = new TestRepo();
  const text = HELLO().replace('__REPO__', repo.origin);
  const c1 = repo.commit('first', { 'nestor.yaml': text, 'functions/hello/Dockerfile': SHELL_FUNCTION('v1'), 'functions/hello/.dockerignore': 'notes.txt\n', 'functions/hello/notes.txt': 'not sent\n' });
  const added = await api(base, 'POST', '/api/apps', { manifest: text, webhook_secret: SECRET, auto_sync: false });
  assert.equal(added.status, 201, JSON.stringify(added.body));

  assert.equal((await githubPush(base, repo.origin, c1)).status, 202);
  const d1 = await deploymentOf(base, 'shop', c1);
  assert.equal(d1.status, 'deployed', d1.error ?? '');
  assert.match(d1.functions[0]!.image, /^nestor\/team\/hello:\d{8}T\d{6}Z-[0-9a-f]{7}$/);
  const log1 = await api<{ build_log: string }>(base, 'GET', `/api/apps/team/shop/deployments/${d1.seq}`);
  assert.match(log1.body.build_log, /building in nested engine/);
  assert.match(log1.body.build_log, /pushed .* to the local registry/);

  const r1 = await invoke(base, 'hello', 'echo "$GREETING $Http_Method"; ls /notes.txt 2>&1 | head -1');
  assert.equal(r1.status, 200);
  assert.match(r1.text, /^v1 POST/);

  // A Dockerfile step that fails: the Engine API says 200, the stream says errorDetail.
  const c2 = repo.commit('broken', { 'functions/hello/Dockerfile': 'FROM busybox:latest\nRUN echo about to fail && exit 7\n' });
  assert.equal((await giteaPush(base, repo.origin, c2)).status, 202);
  const d2 = await deploymentOf(base, 'shop', c2);
  assert.equal(d2.status, 'failed');
  assert.match(d2.error ?? '', /build of hello failed: .*returned a non-zero code: 7/);
  const log2 = await api<{ build_log: string }>(base, 'GET', `/api/apps/team/shop/deployments/${d2.seq}`);
  assert.match(log2.body.build_log, /about to fail/);
  assert.match((await invoke(base, 'hello', 'echo "$GREETING"')).text, /^v1/);

  const c3 = repo.commit('v2', { 'functions/hello/Dockerfile': SHELL_FUNCTION('v2') });
  const sync3 = await api<{ result: string }>(base, 'POST', '/api/apps/team/shop/sync');
  assert.equal(sync3.body.result, 'deployed');
  const d3 = await deploymentOf(base, 'shop', c3);
  assert.match((await invoke(base, 'hello', 'echo "$GREETING"')).text, /^v2/);
  // Unchanged: nothing is built.
  assert.equal((await api<{ result: string }>(base, 'POST', '/api/apps/team/shop/sync')).body.result, 'unchanged');

  const back = await api<{ seq: number; rollback_of: number; status: string }>(base, 'POST', '/api/apps/team/shop/rollback', { to: d1.seq });
  assert.equal(back.status, 200, JSON.stringify(back.body));
  assert.equal(back.body.rollback_of, d1.seq);
  assert.match((await invoke(base, 'hello', 'echo "$GREETING"')).text, /^v1/);

  // Two more images with keepImages 2: the first one (v1) goes, from the engine and the registry.
  const c4 = repo.commit('v3', { 'functions/hello/Dockerfile': SHELL_FUNCTION('v3') });
  await api(base, 'POST', '/api/apps/team/shop/sync');
  assert.equal((await deploymentOf(base, 'shop', c4)).status, 'deployed');
  assert.match((await invoke(base, 'hello', 'echo "$GREETING"')).text, /^v3/);
  const v1Image = d1.functions[0]!.image;
  await assert.rejects(host.docker.getImage(v1Image).inspect(), /no such image/i);
  const inRegistry = async (image: string): Promise<number> => {
    const { url, authorization } = env.supply.registry;
    const at = image.lastIndexOf(':');
    const accept = 'application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json';
    return (await fetch(`${url}/v2/${image.slice(0, at)}/manifests/${image.slice(at + 1)}`, { method: 'HEAD', headers: { authorization, accept } })).status;
  };
  assert.equal(await inRegistry(v1Image), 404, `${v1Image} is gone from the registry too`);
  assert.equal(await inRegistry((await deploymentOf(base, 'shop', c4)).functions[0]!.image), 200, 'the current image is in the registry');
  const refused = await api<{ code: string }>(base, 'POST', '/api/apps/team/shop/rollback', { to: d1.seq });
  assert.equal(refused.status, 409);
  assert.equal(refused.body.code, 'NESTOR_IMAGE_PRUNED');
  // Every deployment is kept, pruned images or not.
  const history = await api<{ deployments: { seq: number; status: string }[] }>(base, 'GET', '/api/apps/team/shop/deployments');
  assert.deepEqual(history.body.deployments.map((d) => d.status), ['deployed', 'deployed', 'deployed', 'failed', 'deployed']);
  assert.ok(d3.seq < history.body.deployments[0]!.seq);

  const metrics = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } }).then((r) => r.text());
  assert.match(metrics, /nestor_function_duration_seconds_count\{start="warm"\} \d+/);

  assert.equal((await api(base, 'DELETE', '/api/apps/team/shop')).status, 204);
  assert.equal((await invoke(base, 'hello')).status, 404);
});

test('a webhook with a bad signature is refused and builds nothing', async () => {
  const repo = new TestRepo();
  const text = manifest('signed', repo.origin, `    - path: signed\n`);
  const c1 = repo.commit('first', { 'nestor.yaml': text, 'signed/Dockerfile': SHELL_FUNCTION('x') });
  await api(base, 'POST', '/api/apps', { manifest: text, webhook_secret: SECRET, auto_sync: false });
  const res = await githubPush(base, repo.origin, c1, 'not-the-secret');
  assert.equal(res.status, 401);
  const body = (await res.json()) as { code: string; detail: string };
  assert.equal(body.code, 'NESTOR_WEBHOOK_SIGNATURE');
  assert.match(body.detail, /X-Hub-Signature-256/);
  const app = await api<{ deployments: unknown[] }>(base, 'GET', '/api/apps/team/signed');
  assert.equal(app.body.deployments.length, 0);
  await api(base, 'DELETE', '/api/apps/team/signed');
});

test('a context that leaves the repository, or links out of it, fails the deployment with the reason', async () => {
  const repo = new TestRepo();
  const text = manifest('escape', repo.origin, `    - path: out\n      context: ../../..\n`);
  const c1 = repo.commit('escape', { 'nestor.yaml': text });
  await api(base, 'POST', '/api/apps', { manifest: text, auto_sync: false });
  const r = await api<{ result: string; error: string }>(base, 'POST', '/api/apps/team/escape/sync');
  assert.equal(r.body.result, 'failed');
  assert.match(r.body.error, /context "\.\.\/\.\.\/\.\." leaves the repository/);
  assert.equal((await deploymentOf(base, 'escape', c1)).status, 'failed');

  repo.link('fn/passwd', '/etc/passwd');
  const c2 = repo.commit('link', { 'nestor.yaml': manifest('escape', repo.origin, `    - path: out\n      context: fn\n`), 'fn/Dockerfile': SHELL_FUNCTION('x') });
  await api(base, 'POST', '/api/apps/team/escape/sync');
  const d2 = await deploymentOf(base, 'escape', c2);
  assert.equal(d2.status, 'failed');
  assert.match(d2.error ?? '', /context file "passwd" is a symbolic link that leads out of the repository/);
  await api(base, 'DELETE', '/api/apps/team/escape');
});

test('an unreachable repository is reported on the app and retried with growing back-off', async () => {
  // Under the temporary directory, the local root the test server allows, and not there.
  const missing = join(tmpdir(), 'nonexistent-nestor', 'repo.git');
  await api(base, 'POST', '/api/apps', { name: 'lost', namespace: 'team', repo_url: missing, poll_interval_s: 5 });
  const deadline = Date.now() + 20_000;
  let app: { last_error: string | null; failures: number; next_poll_at: string } | undefined;
  while (Date.now() < deadline) {
    app = (await api<typeof app & object>(base, 'GET', '/api/apps/team/lost')).body;
    if (app.failures >= 1) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(app && app.failures >= 1, 'the poll failed and was counted');
  assert.ok((app!.last_error ?? '').includes(`git ls-remote of ${missing} failed`), app!.last_error ?? '');
  const wait = Date.parse(app!.next_poll_at) - Date.now();
  assert.ok(wait > 5_000, `the retry waits longer than the interval after a failure (${wait} ms)`);
  await api(base, 'DELETE', '/api/apps/team/lost');
});

test('timeout → 504 and killed; non-zero exit → 502 with stderr; beyond concurrency → 429; envelope sets status', async () => {
  const repo = new TestRepo();
  const text = manifest('limits', repo.origin, `    - path: lim\n      timeout: 1s\n      concurrency: 1\n      memory: 64m\n`);
  const c1 = repo.commit('first', { 'nestor.yaml': text, 'lim/Dockerfile': SHELL_FUNCTION('x') });
  await api(base, 'POST', '/api/apps', { manifest: text, auto_sync: false });
  await api(base, 'POST', '/api/apps/team/limits/sync');
  assert.equal((await deploymentOf(base, 'limits', c1)).status, 'deployed');

  const slow = await invoke(base, 'lim', 'sleep 30');
  assert.equal(slow.status, 504);
  assert.match(slow.text, /did not answer within 1000 ms; its container was killed/);
  assert.equal((JSON.parse(slow.text) as { code: string }).code, 'NESTOR_FUNCTION_TIMEOUT');

  const failing = await invoke(base, 'lim', 'echo "disk on fire" >&2; exit 4');
  assert.equal(failing.status, 502);
  assert.match(failing.text, /exited with status 4.*disk on fire/s);

  const first = invoke(base, 'lim', 'sleep 0.7; echo done');
  await new Promise((r) => setTimeout(r, 200));
  const second = await invoke(base, 'lim', 'echo too many');
  assert.equal(second.status, 429);
  assert.equal(second.headers.get('retry-after'), '1');
  assert.equal((await first).status, 200);

  const env = await invoke(base, 'lim', `echo '{"statusCode": 201, "headers": {"x-made": "yes"}, "body": "created"}'`);
  assert.equal(env.status, 201);
  assert.equal(env.headers.get('x-made'), 'yes');
  assert.equal(env.text, 'created');

  // No network by default.
  const net = await invoke(base, 'lim', "ls /sys/class/net | grep -v '^lo$' | wc -l");
  assert.equal(net.text.trim(), '0');

  const log = await api<{ invocations: { status: number; stderr: string }[] }>(base, 'GET', '/api/functions/team/lim/invocations');
  assert.ok(log.body.invocations.some((i) => i.status === 502 && i.stderr.includes('disk on fire')));
  await api(base, 'DELETE', '/api/apps/team/limits');
});
