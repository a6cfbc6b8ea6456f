import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { provision } from '../src/engine/nested/provision.ts';
import type { NestedEngine } from '../src/engine/nested/nested-engine.ts';
import { ImageSupply, pullInto } from '../src/engine/images/supply.ts';
import { ensureBaseImage } from '../src/engine/images/bootstrap.ts';
import { tarOf } from '../src/engine/archive.ts';
import { consumeProgress, EngineStreamError } from '../src/engine/json-stream.ts';
import { runContainer } from '../src/engine/run-container.ts';
import { nestorLabels } from '../src/engine/labels.ts';
import { cidrsOverlap } from '../src/engine/nested/address-pools.ts';
import { hostEngine } from './helpers.ts';

const host = await hostEngine();
const supply = await ImageSupply.start(host);
let engine: NestedEngine;
const suffix = randomBytes(3).toString('hex');
const hostOnly = `nestor-test/host-only-${suffix}:v1`;

before(async () => {
  engine = await provision({ host, isolation: 'dind-caps', daemon: supply.daemonOptions() });
  // An image that exists nowhere but on the host engine: built here with content of its own.
  const context = await tarOf([{ name: 'Dockerfile', content: `FROM busybox:latest\nRUN echo ${suffix} > /marker\n` }]);
  await consumeProgress('build', await host.docker.buildImage(Readable.from(context) as never, { t: hostOnly, labels: nestorLabels('image') }));
  await host.docker.getImage('busybox:latest').tag({ repo: 'nestor-test/alias', tag: suffix });
});

after(async () => {
  await engine?.destroy();
  await supply.close();
  for (const name of [hostOnly, `nestor-test/alias:${suffix}`]) await host.docker.getImage(name).remove({ force: true }).catch(() => undefined);
});

test('a nested engine pulls an image only the host has, by its usual name, through the mirror', async () => {
  await pullInto(engine, hostOnly);
  const r = await runContainer(engine.docker, { image: hostOnly, cmd: ['cat', '/marker'] });
  assert.equal(r.stdout.trim(), suffix);
});

test('short and fully qualified Docker Hub names reach the same host image', async () => {
  await pullInto(engine, `docker.io/nestor-test/alias:${suffix}`);
  const a = await engine.docker.getImage(`nestor-test/alias:${suffix}`).inspect();
  const b = await host.docker.getImage(`nestor-test/alias:${suffix}`).inspect();
  assert.equal(a.Id, b.Id, 'the nested copy has the host image\'s ID: nothing was rebuilt');
});

test('an image neither the host nor any registry has fails the pull with the registry\'s answer', async () => {
  await assert.rejects(pullInto(engine, `nestor-test/never-built-${suffix}:v1`), /not found|unknown|manifest|pull access denied|no such host|lookup/i);
});

test('preload puts host images into a fresh engine ahead of its first use', async () => {
  const fresh = await provision({ host, isolation: 'dind-caps', daemon: supply.daemonOptions() });
  try {
    await supply.preload([hostOnly], fresh);
    assert.ok((await fresh.docker.getImage(hostOnly).inspect()).Id);
  } finally {
    await fresh.destroy();
  }
});

test('networks a job makes in its engine (docker-compose does) never take the mirror\'s subnet, so pulls still reach the cache', async () => {
  const subnet = supply.registry.subnet;
  assert.ok(subnet, 'the supply network has a subnet');
  const fresh = await provision({ host, isolation: 'dind-caps', daemon: supply.daemonOptions() });
  try {
    // As many networks as the engine will make: whichever of Docker's pools the supply network
    // sits in, a nested dockerd left to its defaults hands it out to one of these.
    const subnetOf = async (id: string) => ((await fresh.docker.getNetwork(id).inspect()) as { IPAM: { Config: { Subnet: string }[] } }).IPAM.Config[0]!.Subnet;
    const made = [await subnetOf('bridge')];
    for (let i = 0; i < 64; i++) {
      const net = await fresh.docker.createNetwork({ Name: `project-${i}_default` }).catch((err: unknown) => {
        if (/non-overlapping .*address pool/.test(String((err as Error).message))) return undefined; // all pools used
        throw err;
      });
      if (!net) break;
      made.push(await subnetOf(net.id));
    }
    assert.ok(made.length > 10, `the engine made its networks: ${made.join(' ')}`);
    assert.deepEqual(made.filter((s) => cidrsOverlap(s, subnet)), [], `no network of the engine overlaps the supply network ${subnet}`);
    await pullInto(fresh, hostOnly);
    const r = await runContainer(fresh.docker, { image: hostOnly, cmd: ['cat', '/marker'] });
    assert.equal(r.stdout.trim(), suffix);
  } finally {
    await fresh.destroy();
  }
});

test('bootstrap builds the busybox base image locally and it runs', async () => {
  const tag = `nestor-test/base-${suffix}:latest`;
  try {
    await ensureBaseImage(host.docker, () => {}, true, tag);
    const r = await runContainer(host.docker, { image: tag, cmd: ['sh', '-c', 'echo $((6*7))'] });
    assert.equal(r.stdout.trim(), '42');
  } finally {
    await host.docker.getImage(tag).remove({ force: true }).catch(() => undefined);
  }
});

test('a failing build is detected from the stream although the API answers 200', async () => {
  const context = await tarOf([{ name: 'Dockerfile', content: 'FROM busybox:latest\nRUN exit 3\n' }]);
  const stream = await engine.docker.buildImage(Readable.from(context) as never, { t: `broken-${suffix}`, rm: true, forcerm: true });
  await assert.rejects(consumeProgress('build of broken', stream), (err: unknown) => {
    assert.ok(err instanceof EngineStreamError);
    assert.match(err.message, /non-zero code: 3/);
    return true;
  });
});
