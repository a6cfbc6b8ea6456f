import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hostEngine } from '../helpers.ts';
import { api } from '../server/harness.ts';
import { SHELL_FUNCTION, TestRepo, deploymentOf, invoke, manifest, serverForFile } from '../gitops/fixture.ts';
import { LABEL_FUNCTIONS_APP } from '../../src/gitops/function-engines.ts';
import { assertNoHostPrivilege, commandOf, processesOf } from './host-processes.ts';

/**
 * A deployed function is code from a repository, as untrusted as a job's step: it runs in its
 * application's own engine, in a user namespace, so that root in its container is nobody on
 * the host, and another application's functions are out of its reach.
 */
const host = await hostEngine();
const server = serverForFile(host);

async function deploy(app: string, path: string): Promise<void> {
  const repo = new TestRepo();
  const text = manifest(app, repo.origin, `    - path: ${path}\n      network: bridge\n`);
  const commit = repo.commit('first', { 'nestor.yaml': text, [`${path}/Dockerfile`]: SHELL_FUNCTION(app) });
  assert.equal((await api(server.base, 'POST', '/api/apps', { manifest: text, auto_sync: false })).status, 201);
  await api(server.base, 'POST', `/api/apps/team/${app}/sync`);
  const d = await deploymentOf(server.base, app, commit);
  assert.equal(d.status, 'deployed', d.error ?? '');
}

async function engineOf(app: string): Promise<{ id: string; isolation: string }> {
  const [c] = await host.docker.listContainers({ filters: JSON.stringify({ label: [`${LABEL_FUNCTIONS_APP}=team/${app}`] }) });
  assert.ok(c, `application ${app} has an engine of its own on the host`);
  return { id: c.Id, isolation: c.Labels['dev.nestor.isolation'] ?? '' };
}

test("a function runs in its application's own user-namespaced engine: root inside, nobody and no capability on the host", { timeout: 300_000 }, async () => {
  await deploy('iso-a', 'whoami');
  await deploy('iso-b', 'other');

  // Inside, the image's root, with no capability; its engine is not the host's.
  const inside = await invoke(server.base, 'whoami', "id -u; grep CapEff /proc/self/status; sleep 30 >/dev/null 2>&1 & echo started");
  assert.equal(inside.status, 200, inside.text);
  const [uid, capEff] = inside.text.trim().split('\n');
  assert.equal(uid, '0', 'the image runs as its own root, which is the user namespace\'s');
  assert.match(capEff ?? '', /^CapEff:\s*0+$/, 'and holds no capability even there');
  const hostContainers = await host.docker.listContainers({ filters: JSON.stringify({ label: ['dev.nestor.function'] }) });
  assert.equal(hostContainers.length, 0, 'no function instance runs on the host engine');

  // Each application has its own engine, in the strongest mode the host offers.
  const a = await engineOf('iso-a');
  const b = await engineOf('iso-b');
  assert.notEqual(a.id, b.id, 'two applications never share an engine');
  assert.equal(a.isolation, 'rootless');

  // From the host: every process of the engine, the instances and the request just started
  // included, runs as an ordinary host user without a capability in the host's namespace.
  const pids = processesOf(a.id);
  const commands = pids.map(commandOf);
  assert.ok(commands.some((c) => c.includes('dockerd')), `the engine's dockerd is among its processes: ${commands.join(' | ')}`);
  assert.ok(commands.some((c) => c.startsWith('sleep 30')), `the function's own process is among them: ${commands.join(' | ')}`);
  assertNoHostPrivilege(pids);

  // No engine's API is in a function's reach: not its own engine's socket, not the host's.
  const socket = await invoke(server.base, 'whoami', 'ls /var/run/docker.sock /run/docker.sock 2>&1; true');
  assert.match(socket.text, /No such file/, 'no engine socket is in reach of a function');

  await api(server.base, 'DELETE', '/api/apps/team/iso-a');
  await api(server.base, 'DELETE', '/api/apps/team/iso-b');
  const left = await host.docker.listContainers({ all: true, filters: JSON.stringify({ label: [LABEL_FUNCTIONS_APP] }) });
  assert.deepEqual(left.map((c) => c.Names[0]), [], "a removed application's engine goes with it");
  const volumes = (await host.docker.listVolumes({ filters: JSON.stringify({ label: [LABEL_FUNCTIONS_APP] }) })).Volumes ?? [];
  assert.deepEqual(volumes.map((v) => v.Name), [], 'and its images with it');
});
