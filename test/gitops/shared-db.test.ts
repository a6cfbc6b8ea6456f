import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hostEngine } from '../helpers.ts';
import { api, resetPostgres } from '../server/harness.ts';
import { SHELL_FUNCTION, TestRepo, deploymentOf, gitopsServer, invoke, manifest } from './fixture.ts';

const host = await hostEngine();

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('two servers on one PostgreSQL: one of them builds each commit, both serve it, a removal reaches both', async () => {
  const url = await resetPostgres();
  const a = await gitopsServer(host, { buildWarm: 0 }, undefined, url);
  const b = await gitopsServer(host, { buildWarm: 0 }, undefined, url);
  try {
    const repo = new TestRepo();
    const text = manifest('shared', repo.origin, `    - path: shared\n`);
    const commit = repo.commit('first', { 'nestor.yaml': text, 'shared/Dockerfile': SHELL_FUNCTION('both') });
    // Automatic sync on both servers: the first poll is due at once.
    assert.equal((await api(a.server.url, 'POST', '/api/apps', { manifest: text, poll_interval_s: 5 })).status, 201);
    assert.equal((await deploymentOf(a.server.url, 'shared', commit)).status, 'deployed');

    for (const s of [a, b]) {
      const r = await eventually(`serving on ${s.server.url}`, async () => {
        const x = await invoke(s.server.url, 'shared', 'echo "$GREETING"');
        return x.status === 200 ? x : undefined;
      });
      assert.equal(r.text.trim(), 'both');
    }
    const history = await api<{ deployments: { commit: string }[] }>(b.server.url, 'GET', '/api/apps/team/shared/deployments');
    assert.equal(history.body.deployments.filter((d) => d.commit === commit).length, 1, 'built once, not once per server');

    assert.equal((await api(a.server.url, 'DELETE', '/api/apps/team/shared')).status, 204);
    await eventually('removal on the other server', async () => ((await invoke(b.server.url, 'shared')).status === 404 ? true : undefined));
  } finally {
    await a.close();
    await b.close();
    // An image still in use on the other server when the first removed it stays for `nestor prune`.
    for (const img of await host.docker.listImages({ filters: JSON.stringify({ reference: ['nestor/team/shared'] }) })) await host.docker.getImage(img.Id).remove({ force: true }).catch(() => undefined);
  }
});
