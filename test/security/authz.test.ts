import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { hostEngine } from '../helpers.ts';
import { api } from '../server/harness.ts';
import { SHELL_FUNCTION, TestRepo, gitopsServer, manifest } from '../gitops/fixture.ts';

// The operator allows local repositories under one directory; the test's other repositories
// (in the temporary directory) are outside it.
const host = await hostEngine();
const root = mkdtempSync(join(tmpdir(), 'nestor-allowed-'));
let env: Awaited<ReturnType<typeof gitopsServer>>;
let base = '';
let user = '';
let outside: TestRepo;

before(async () => {
  env = await gitopsServer(host, { localRepoRoots: [root], buildWarm: 0 });
  base = env.server.url;
  user = (await api<{ token: string }>(base, 'POST', '/api/tokens', { name: 'mallory' })).body.token;
  outside = new TestRepo();
  outside.commit('first', { 'nestor.yaml': manifest('local', 'x', `    - path: local\n`), 'local/Dockerfile': SHELL_FUNCTION('local') });
  execFileSync('git', ['clone', '--quiet', '--bare', outside.origin, join(root, 'inside.git')]);
  symlinkSync(outside.origin, join(root, 'link-out.git'));
});
after(async () => env?.close());

type Problem = { code: string; detail: string; hint: string };

test('a user token may not name a repository on the server\'s disk, nor a deploy target: 403 with what to do instead', async () => {
  const cases: [string, Record<string, unknown>][] = [
    ['file:// under the allowed root', { repo_url: `file://${root}/inside.git` }],
    ['a path under the allowed root', { repo_url: `${root}/inside.git` }],
    ['a path anywhere', { repo_url: '/etc' }],
    ['an ssh:// target (the server\'s keys)', { repo_url: 'https://git.example.com/t/a.git', target: { host: 'ssh://deploy@prod.example.com' } }],
    ['a tcp:// target with a certPath on the server', { repo_url: 'https://git.example.com/t/a.git', target: { host: 'tcp://prod.example.com:2376', certPath: '/root/.docker' } }],
  ];
  for (const [what, body] of cases) {
    const r = await api<Problem>(base, 'POST', '/api/apps', { name: 'nope', namespace: 'team', auto_sync: false, ...body }, user);
    assert.equal(r.status, 403, `${what}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.code, 'NESTOR_ADMIN_ONLY', what);
    assert.match(r.body.detail, /Only the server's admin may/);
    assert.ok(r.body.hint.length > 20, `${what}: a hint that says what to do`);
  }
  assert.equal((await api(base, 'GET', '/api/apps/team/nope')).status, 404, 'nothing was added');
  // A forge's repository, on the server's own engine: any user may.
  const ok = await api(base, 'POST', '/api/apps', { name: 'forge', namespace: 'team', repo_url: 'https://git.example.com/t/a.git', auto_sync: false }, user);
  assert.equal(ok.status, 201, JSON.stringify(ok.body));
  await api(base, 'DELETE', '/api/apps/team/forge');
});

test('the admin names local repositories only under the allowed roots, links followed', async () => {
  for (const repoUrl of [`file://${outside.origin}`, outside.origin, `${root}/link-out.git`, `${root}/../${outside.origin}`]) {
    const r = await api<Problem>(base, 'POST', '/api/apps', { name: 'outside', namespace: 'team', repo_url: repoUrl, auto_sync: false });
    assert.equal(r.status, 403, `${repoUrl}: ${JSON.stringify(r.body)}`);
    assert.equal(r.body.code, 'NESTOR_REPO_OUTSIDE_ROOTS');
    assert.match(r.body.hint, /NESTOR_LOCAL_REPO_ROOTS/);
  }
  const added = await api(base, 'POST', '/api/apps', { name: 'local', namespace: 'team', repo_url: `file://${root}/inside.git`, auto_sync: false });
  assert.equal(added.status, 201, JSON.stringify(added.body));
  const sync = await api<{ result: string; error?: string }>(base, 'POST', '/api/apps/team/local/sync');
  assert.equal(sync.body.result, 'deployed', sync.body.error ?? '');
  await api(base, 'DELETE', '/api/apps/team/local');
});
