import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { test } from 'node:test';
import { hostEngine } from '../helpers.ts';
import { api, tempDir } from '../server/harness.ts';
import { freePort, startServerProcess } from '../server/processes.ts';
import { SHELL_FUNCTION, TestRepo, deploymentOf, invoke, manifest, removeFunctionEngines } from './fixture.ts';
import { attachEngine } from '../../src/engine/nested/attach.ts';
import { functionEngineName } from '../../src/gitops/function-engines.ts';

const host = await hostEngine();

/** The function's instances, in its application's own engine (which outlives the server). */
async function instances(fn: string): Promise<{ Labels: Record<string, string> }[]> {
  const engine = await attachEngine(host, functionEngineName({ namespace: 'team', name: 'crash' }));
  const filters = JSON.stringify({ label: [`dev.nestor.function=${fn}`] });
  return engine.docker.listContainers({ all: true, filters });
}
const instancesOf = async (fn: string) => (await instances(fn)).length;

test('kill -9 of the server: its function instances are removed at restart and the deployment serves again', async () => {
  const port = await freePort();
  const dataDir = tempDir();
  const base = `http://127.0.0.1:${port}`;
  const repo = new TestRepo();
  const text = manifest('crash', repo.origin, `    - path: crashy\n      warm: 2\n`);
  const commit = repo.commit('first', { 'nestor.yaml': text, 'crashy/Dockerfile': SHELL_FUNCTION('alive') });

  const first = await startServerProcess(port, dataDir, { NESTOR_BUILD_ENGINES: '0', NESTOR_LOCAL_REPO_ROOTS: tmpdir() });
  try {
    await api(base, 'POST', '/api/apps', { manifest: text, auto_sync: false });
    await api(base, 'POST', '/api/apps/team/crash/sync');
    assert.equal((await deploymentOf(base, 'crash', commit)).status, 'deployed');
    assert.equal((await invoke(base, 'crashy', 'echo "$GREETING"')).text.trim(), 'alive');
  } finally {
    await first.kill9();
  }
  assert.ok((await instancesOf('team/crashy')) >= 1, 'the dead server left instances behind');

  const second = await startServerProcess(port, dataDir, { NESTOR_BUILD_ENGINES: '0', NESTOR_LOCAL_REPO_ROOTS: tmpdir() });
  try {
    // The new server's own instances carry its pid; the dead one's are gone.
    const owners = async () => (await instances('team/crashy')).map((c) => c.Labels['dev.nestor.owner.pid']);
    assert.ok((await owners()).every((o) => o === String(second.child.pid)), `only the new server's instances remain: ${(await owners()).join(', ')}`);
    const r = await invoke(base, 'crashy', 'echo "$GREETING again"');
    assert.equal(r.status, 200);
    assert.equal(r.text.trim(), 'alive again');
    await api(base, 'DELETE', '/api/apps/team/crash');
    assert.equal((await host.docker.listContainers({ all: true, filters: JSON.stringify({ label: ['dev.nestor.functions-app=team/crash'] }) })).length, 0, "the removed application's engine is gone, its instances with it");
  } finally {
    await second.stop();
    await removeFunctionEngines(host);
  }
});
