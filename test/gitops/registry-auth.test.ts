import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import bcrypt from 'bcryptjs';
import type Docker from 'dockerode';
import { ImageSupply } from '../../src/engine/images/supply.ts';
import { LOCAL_REGISTRY_IMAGE, OFFICIAL_REGISTRY_IMAGE } from '../../src/engine/images/image-names.ts';
import { firstPresent } from '../../src/engine/images/local-images.ts';
import { nestorLabels } from '../../src/engine/labels.ts';
import { hostEngine } from '../helpers.ts';
import { api } from '../server/harness.ts';
import { SHELL_FUNCTION, TestRepo, deploymentOf, gitopsServer, invoke, manifest } from './fixture.ts';

// A registry that wants a user name and password (htpasswd), as a team's own registry would.
const host = await hostEngine();
const PASSWORD = 'pa55-w0rd-never-logged';
let registry: Docker.Container;
let address = '';
let env: Awaited<ReturnType<typeof gitopsServer>>;
let logs = '';

before(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nestor-htpasswd-'));
  writeFileSync(join(dir, 'htpasswd'), `builder:${bcrypt.hashSync(PASSWORD, 8)}\n`);
  // Published on the supply network's gateway: an address of this host that nested engines reach.
  const supply = await ImageSupply.start(host);
  const gateway = supply.registry.gateway;
  await supply.close();
  registry = await host.docker.createContainer({
    // Whichever registry image `nestor images bootstrap` left: registry:2 where it could be pulled.
    Image: await firstPresent(host.docker, [OFFICIAL_REGISTRY_IMAGE, LOCAL_REGISTRY_IMAGE]),
    Env: ['REGISTRY_AUTH=htpasswd', 'REGISTRY_AUTH_HTPASSWD_REALM=nestor-test', 'REGISTRY_AUTH_HTPASSWD_PATH=/auth/htpasswd', 'REGISTRY_LOG_LEVEL=warn'],
    Labels: nestorLabels('registry', { 'dev.nestor.test': 'registry-auth' }),
    HostConfig: { Binds: [`${dir}:/auth:ro`], PortBindings: { '5000/tcp': [{ HostIp: gateway, HostPort: '' }] }, Memory: 256 * 1024 * 1024 },
  });
  await registry.start();
  const port = (await registry.inspect()).NetworkSettings.Ports['5000/tcp']![0]!.HostPort;
  address = `${gateway}:${port}`;
  const capture = { write: (line: string) => void (logs += line) };
  env = await gitopsServer(host, { registry: `${address}/acme`, insecureRegistries: [address], buildWarm: 0 }, capture);
});
after(async () => {
  await env?.close();
  await registry?.remove({ force: true, v: true });
});

test('pushes use the registry\'s stored credentials; without them the push fails; the password is never shown', async () => {
  const repo = new TestRepo();
  const text = manifest('private', repo.origin, `    - path: priv\n`);
  const commit = repo.commit('first', { 'nestor.yaml': text, 'priv/Dockerfile': SHELL_FUNCTION('private') });
  await api(env.server.url, 'POST', '/api/apps', { manifest: text, auto_sync: false });

  const denied = await api<{ result: string; error: string }>(env.server.url, 'POST', '/api/apps/team/private/sync');
  assert.equal(denied.body.result, 'failed');
  assert.match(denied.body.error, /push of .*failed: .*(no basic auth credentials|unauthorized|authentication required)/i);

  const config = JSON.stringify({ auths: { [address]: { auth: Buffer.from(`builder:${PASSWORD}`).toString('base64') } } });
  const imported = await api<{ imported: string[] }>(env.server.url, 'POST', '/api/registries/import', { config });
  assert.deepEqual(imported.body.imported, [address]);
  const listed = await api(env.server.url, 'GET', '/api/registries');
  assert.doesNotMatch(JSON.stringify(listed.body), new RegExp(PASSWORD));

  const ok = await api<{ result: string; deployment: { functions: { image: string }[] } }>(env.server.url, 'POST', '/api/apps/team/private/sync', { force: true });
  assert.equal(ok.body.result, 'deployed', JSON.stringify(ok.body));
  assert.match(ok.body.deployment.functions[0]!.image, new RegExp(`^${address.replace(/\./g, '\\.')}/acme/team/priv:`));
  const d = await deploymentOf(env.server.url, 'private', commit);
  assert.equal(d.status, 'deployed');
  assert.equal((await invoke(env.server.url, 'priv', 'echo "$GREETING"')).text.trim(), 'private');

  // The registry holds the tag, and answers it only with the credentials.
  const [repoName, tag] = [`acme/team/priv`, d.functions[0]!.image.split(':').pop()!];
  const anon = await fetch(`http://${address}/v2/${repoName}/manifests/${tag}`, { method: 'HEAD' });
  assert.equal(anon.status, 401);
  const authed = await fetch(`http://${address}/v2/${repoName}/manifests/${tag}`, { method: 'HEAD', headers: { authorization: `Basic ${Buffer.from(`builder:${PASSWORD}`).toString('base64')}`, accept: 'application/vnd.docker.distribution.manifest.v2+json' } });
  assert.equal(authed.status, 200);

  // A FROM image in the private registry is pulled with the same credentials.
  const both = manifest('private', repo.origin, `    - path: priv\n    - path: child\n`);
  const c2 = repo.commit('child', { 'nestor.yaml': both, 'child/Dockerfile': `FROM ${d.functions[0]!.image}\nENV GREETING=child-of-private\n` });
  await api(env.server.url, 'POST', '/api/apps/team/private/sync');
  const d2 = await deploymentOf(env.server.url, 'private', c2);
  assert.equal(d2.status, 'deployed', d2.error ?? '');
  assert.equal((await invoke(env.server.url, 'child', 'echo "$GREETING"')).text.trim(), 'child-of-private');

  const buildLog = await api<{ build_log: string }>(env.server.url, 'GET', `/api/apps/team/private/deployments/${d2.seq}`);
  assert.doesNotMatch(buildLog.body.build_log, new RegExp(PASSWORD));
  assert.doesNotMatch(logs, new RegExp(PASSWORD));
  assert.ok(logs.length > 0, 'the server log was captured');
  await api(env.server.url, 'DELETE', '/api/apps/team/private');
});
