import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { hostEngine } from '../helpers.ts';
import { api } from '../server/harness.ts';
import { SHELL_FUNCTION, TestRepo, deploymentOf, gitopsServer, invoke, manifest } from '../gitops/fixture.ts';

const host = await hostEngine();
let env: Awaited<ReturnType<typeof gitopsServer>>;
let base = '';

before(async () => {
  env = await gitopsServer(host, { buildWarm: 0 });
  base = env.server.url;
  const repo = new TestRepo();
  const text = manifest('echo', repo.origin, `    - path: echo\n`);
  const c1 = repo.commit('first', { 'nestor.yaml': text, 'echo/Dockerfile': SHELL_FUNCTION('echo') });
  await api(base, 'POST', '/api/apps', { manifest: text, auto_sync: false });
  await api(base, 'POST', '/api/apps/team/echo/sync');
  assert.equal((await deploymentOf(base, 'echo', c1)).status, 'deployed');
});
after(async () => env?.close());

test('client headers cannot set the gateway\'s Http_Method, Http_Path or Http_Query', async () => {
  // The function runs its body as a script: it prints its request variables.
  const script = 'env | grep ^Http_ | sort';
  const r = await fetch(`${base}/fn/team/echo/orders/7?id=7`, {
    method: 'POST',
    headers: { Method: 'DELETE', Path: '/etc/passwd', Query: 'id=1 OR 1=1', 'X-Method': 'kept' },
    body: script,
  });
  const text = await r.text();
  assert.equal(r.status, 200, text);
  const vars = Object.fromEntries(text.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  assert.equal(vars.Http_Method, 'POST', text);
  assert.equal(vars.Http_Path, '/orders/7', text);
  assert.equal(vars.Http_Query, 'id=7', text);
  assert.equal(vars.Http_X_Method, 'kept', 'other headers still arrive');
  assert.equal((await invoke(base, 'echo', 'echo "$Http_Method"')).text.trim(), 'POST');
});
