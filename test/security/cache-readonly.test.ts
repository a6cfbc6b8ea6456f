import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostEngine, nestor } from '../helpers.ts';
import { ImageSupply } from '../../src/engine/images/supply.ts';
import { ensureReadOnlyRegistry, REGISTRY_ALIAS } from '../../src/engine/images/registry.ts';
import { provision } from '../../src/engine/nested/provision.ts';
import { consumeProgress } from '../../src/engine/json-stream.ts';

/**
 * The shared image cache serves every job; a job must not be able to change what the others
 * get. A step tries to push over `busybox:latest` and to delete its manifest, through the
 * mirror its engine pulls from and at the registry's own address.
 */
test('a step can neither push to nor delete from the shared image cache', { timeout: 180_000 }, async () => {
  const host = await hostEngine();
  const supply = await ImageSupply.start(host);
  const mirror = new URL(supply.mirrorUrl).host;
  const registry = new URL(supply.registry.url).host;
  await supply.preload(['busybox:latest']);
  const digestBefore = await manifestDigest(supply.registry.url, supply.registry.authorization);
  await supply.close();

  const dir = mkdtempSync(join(tmpdir(), 'nestor-cache-'));
  writeFileSync(
    join(dir, 'tamper.sh'),
    [
      'docker pull busybox:latest',
      `docker tag busybox:latest ${mirror}/library/busybox:latest && docker tag busybox:latest ${registry}/library/busybox:latest`,
      `if docker push ${mirror}/library/busybox:latest; then echo "tamper: pushed to the mirror"; else echo "tamper: mirror refused the push"; fi`,
      `if timeout 20 docker push ${registry}/library/busybox:latest; then echo "tamper: pushed to the registry"; else echo "tamper: registry refused the push"; fi`,
      `printf 'DELETE /v2/library/busybox/manifests/${digestBefore} HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${mirror.replace(':', ' ')} | head -1 | sed 's/^/tamper: mirror answered the delete: /'`,
      `printf 'DELETE /v2/library/busybox/manifests/${digestBefore} HTTP/1.0\\r\\n\\r\\n' | nc -w 3 ${registry.replace(':', ' ')} | head -1 | sed 's/^/tamper: registry answered the delete: /'`,
      'echo "tamper: done"',
      '',
    ].join('\n'),
  );
  writeFileSync(join(dir, '.nestor.yml'), 'steps:\n  - name: tamper\n    image: docker:27-cli\n    commands:\n      - sh tamper.sh\n');
  const r = await nestor(['run', '-C', dir]);
  const out = r.stdout + r.stderr;
  assert.match(out, /tamper: done/, out);
  assert.doesNotMatch(out, /tamper: pushed to/, out);
  assert.match(out, /tamper: mirror refused the push/);
  assert.match(out, /tamper: registry refused the push/);
  if (process.env.NESTOR_TEST_SHOW) process.stderr.write(out);
  assert.doesNotMatch(out, /answered the delete: HTTP\/1\.[01] 202/, out);
  assert.equal(await manifestDigest(supply.registry.url, supply.registry.authorization), digestBefore, 'what other jobs pull is unchanged');
});

async function manifestDigest(registryUrl: string, authorization: string): Promise<string> {
  const res = await fetch(`${registryUrl}/v2/library/busybox/manifests/latest`, { method: 'HEAD', headers: { authorization, accept: 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json' } });
  assert.equal(res.status, 200);
  return res.headers.get('docker-content-digest')!;
}

/**
 * Engines that reach the registry itself, not the mirror: GitOps build engines (the registry
 * joins their network so they can push) and named engines (they outlive the process whose
 * mirror they would use). A build's `RUN` steps and a named engine's users must not write.
 */
test('the registry takes no write without Nestor\'s password; named engines get a read-only one', { timeout: 180_000 }, async () => {
  const host = await hostEngine();
  const supply = await ImageSupply.start(host);
  await supply.preload(['busybox:latest']);
  await supply.close();
  const { url, authorization } = supply.registry;
  const anonymousUpload = await fetch(`${url}/v2/library/busybox/blobs/uploads/`, { method: 'POST' });
  assert.equal(anonymousUpload.status, 401, 'an upload without the password is refused');
  const digest = await manifestDigest(url, authorization);
  const anonymousDelete = await fetch(`${url}/v2/library/busybox/manifests/${digest}`, { method: 'DELETE' });
  assert.equal(anonymousDelete.status, 401, 'a delete without the password is refused');
  const wrong = `Basic ${Buffer.from('nestor:guess').toString('base64')}`;
  assert.equal((await fetch(`${url}/v2/library/busybox/blobs/uploads/`, { method: 'POST', headers: { authorization: wrong } })).status, 401);

  await ensureReadOnlyRegistry(host.docker);
  const engine = await provision({ host, joinRegistry: 'read-only', daemon: { insecureRegistries: [`${REGISTRY_ALIAS}:5000`] } });
  try {
    const pull = await engine.docker.pull(`${REGISTRY_ALIAS}:5000/library/busybox:latest`);
    await consumeProgress('pull from the read-only registry', pull);
    const pushName = `${REGISTRY_ALIAS}:5000/library/busybox`;
    await engine.docker.getImage(`${pushName}:latest`).tag({ repo: pushName, tag: 'tampered' });
    const push = (await engine.docker.getImage(`${pushName}:tampered`).push({ authconfig: { serveraddress: `${REGISTRY_ALIAS}:5000` } })) as NodeJS.ReadableStream;
    await assert.rejects(consumeProgress('push to the read-only registry', push), /push to the read-only registry failed/);
  } finally {
    await engine.destroy();
  }
  const tampered = await fetch(`${url}/v2/library/busybox/manifests/tampered`, { method: 'HEAD', headers: { authorization } });
  assert.equal(tampered.status, 404, 'nothing was pushed');
  assert.equal(await manifestDigest(url, authorization), digest, 'what other jobs pull is unchanged');
});
