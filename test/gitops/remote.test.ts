import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { LABEL_MANAGED } from '../../src/engine/labels.ts';
import { provision } from '../../src/engine/nested/provision.ts';
import type { NestedEngine } from '../../src/engine/nested/nested-engine.ts';
import { hostEngine } from '../helpers.ts';
import { api } from '../server/harness.ts';
import { startSshd, type TestSshd } from '../sshd.ts';
import { SHELL_FUNCTION, TestRepo, deploymentOf, gitopsServer, invoke, manifest } from './fixture.ts';

// The "remote" Docker host: a nested engine, reached only through an SSH server on loopback,
// as a machine that is not the build host would be.
const host = await hostEngine();
let engine: NestedEngine;
let sshd: TestSshd;
let env: Awaited<ReturnType<typeof gitopsServer>>;

before(async () => {
  engine = await provision({ host, publishPort: 0 });
  sshd = await startSshd(engine.cliEnvironment(mkdtempSync(join(tmpdir(), 'nestor-remote-certs-'))));
  process.env.NESTOR_SSH_KEY = sshd.clientKey;
  env = await gitopsServer(host);
});
after(async () => {
  await env?.close();
  sshd?.stop();
  await engine?.destroy();
});

test('a deploy to an ssh:// target puts the image on that engine and runs the function there', async () => {
  const repo = new TestRepo();
  const text = manifest('far', repo.origin, `    - path: far\n`);
  const commit = repo.commit('first', { 'nestor.yaml': text, 'far/Dockerfile': SHELL_FUNCTION('remote') });
  const added = await api(env.server.url, 'POST', '/api/apps', { manifest: text, auto_sync: false, target: { host: `ssh://root@127.0.0.1:${sshd.port}` } });
  assert.equal(added.status, 201, JSON.stringify(added.body));
  assert.equal(added.body.target, `ssh://root@127.0.0.1:${sshd.port}`);
  await api(env.server.url, 'POST', '/api/apps/team/far/sync');
  const d = await deploymentOf(env.server.url, 'far', commit);
  assert.equal(d.status, 'deployed', d.error ?? '');
  const image = d.functions[0]!.image;

  const r = await invoke(env.server.url, 'far', 'echo "$GREETING from $(hostname)"');
  assert.equal(r.status, 200);
  assert.match(r.text, /^remote from /);
  // The image and the function's containers are on the far engine, not on this host.
  await engine.docker.getImage(image).inspect();
  await assert.rejects(host.docker.getImage(image).inspect(), /no such image/i);
  const far = await engine.docker.listContainers({ all: true, filters: JSON.stringify({ label: [`${LABEL_MANAGED}=true`, 'dev.nestor.role=function'] }) });
  assert.ok(far.length >= 1, 'a warm instance waits on the far engine');

  await api(env.server.url, 'DELETE', '/api/apps/team/far');
  await assert.rejects(engine.docker.getImage(image).inspect(), /no such image/i);
});

test('a plain TCP target without TLS material is refused with what to give', async () => {
  const r = await api<{ code: string; hint: string }>(env.server.url, 'POST', '/api/apps', { name: 'plain', namespace: 'team', repo_url: '/tmp/x.git', target: { host: 'tcp://10.0.0.9:2375' } });
  assert.equal(r.status, 422);
  assert.equal(r.body.code, 'NESTOR_TARGET_REFUSED');
  assert.match(r.body.hint, /certPath/);
});
