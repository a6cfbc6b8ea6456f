import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, ping } from '../src/engine/engine-client.ts';
import { provision, EngineNotReadyError } from '../src/engine/nested/provision.ts';
import type { NestedEngine } from '../src/engine/nested/nested-engine.ts';
import { makeEngineCertificates } from '../src/engine/tls-material.ts';
import { runContainer } from '../src/engine/run-container.ts';
import { ImageSupply } from '../src/engine/images/supply.ts';
import { hostEngine, objectsOf } from './helpers.ts';
import { processOwner } from '../src/engine/ownership.ts';

const host = await hostEngine();
const supply = await ImageSupply.start(host);
after(() => supply.close());

async function withEngine(opts: Omit<Parameters<typeof provision>[0], 'host'>, body: (e: NestedEngine) => Promise<void>): Promise<void> {
  const engine = await provision({ host, daemon: supply.daemonOptions(), ...opts });
  try {
    await body(engine);
  } finally {
    await engine.destroy();
    assert.equal(await objectsOf(host, engine.name), 0, 'destroy leaves no container, network or volume');
  }
}

test('dind-caps gives a nested engine with its own daemon, limits and labels', async () => {
  await withEngine({ isolation: 'dind-caps', memoryMb: 768, cpus: 1 }, async (engine) => {
    assert.equal(engine.isolation, 'dind-caps');
    const inner = await engine.docker.info();
    const outer = await host.docker.info();
    assert.notEqual(inner.ID, outer.ID, 'the nested daemon is another daemon');
    assert.equal(inner.Containers, 0);
    const sidecar = await host.docker.getContainer(engine.containerId!).inspect();
    assert.equal(sidecar.HostConfig.Memory, 768 * 1024 * 1024);
    assert.equal(sidecar.HostConfig.NanoCpus, 1e9);
    assert.equal(sidecar.HostConfig.Privileged, false);
    assert.equal(sidecar.Config.Labels['dev.nestor.managed'], 'true');
    assert.equal(sidecar.Config.Labels['dev.nestor.engine'], engine.name);
  });
});

test('auto isolation picks the strongest mode the host offers, never one that gives the host away', async () => {
  await withEngine({ isolation: 'auto' }, async (engine) => {
    const runtimes = Object.keys(((await host.docker.info()) as { Runtimes?: Record<string, unknown> }).Runtimes ?? {});
    const vm = ['sysbox-runc', 'kata-runtime', 'runcvm'].some((r) => runtimes.includes(r));
    assert.ok(vm ? ['sysbox', 'kata', 'runcvm'].includes(engine.isolation) : engine.isolation === 'rootless', engine.isolation);
    assert.equal((await engine.health()).healthy, true);
  });
});

test('dind, asked for by name, says when it falls back to capabilities', async () => {
  await withEngine({ isolation: 'dind' }, async (engine) => {
    const privilegedWorks = await host.docker
      .createContainer({ Image: 'busybox:latest', Cmd: ['true'], HostConfig: { Privileged: true }, Labels: { 'dev.nestor.managed': 'true' } })
      .then(async (c) => {
        try {
          await c.start();
          return true;
        } catch {
          return false;
        } finally {
          await c.remove({ force: true });
        }
      });
    if (privilegedWorks) {
      assert.equal(engine.isolation, 'dind');
      assert.deepEqual(engine.notices, []);
    } else {
      // The process's first `dind` engine learns it and says so; later ones reuse what it learnt.
      assert.equal(engine.isolation, 'dind-caps');
      if (engine.notices.length) assert.match(engine.notices[0] ?? '', /refuses privileged containers \(unable to apply caps.*dind-caps/);
    }
  });
});

test('socket mode hands out the host engine itself on a network of its own', async () => {
  await withEngine({ isolation: 'socket' }, async (engine) => {
    assert.equal(engine.isolation, 'socket');
    assert.equal((await engine.docker.info()).ID, (await host.docker.info()).ID);
    assert.ok((await host.docker.getNetwork(engine.network).inspect()).Labels?.['dev.nestor.managed']);
  });
});

test('the engine is reached over TLS with its generated certificates, and refuses a foreign CA', async () => {
  await withEngine({ isolation: 'dind-caps' }, async (engine) => {
    assert.equal(engine.client.endpoint.kind, 'tls');
    await ping(engine.client, 2000);
    if (engine.client.endpoint.kind !== 'tls') return;
    const foreign = await makeEngineCertificates({ dnsNames: [engine.name] });
    const stranger = connect({ ...engine.client.endpoint, tls: foreign.client });
    await assert.rejects(ping(stranger, 2000), /certificate|TLS|SSL|alert/i);
  });
});

test('a step container inside the nested engine runs and gets its image from the host cache', async () => {
  await withEngine({ isolation: 'dind-caps' }, async (engine) => {
    await supply.preload(['busybox:latest'], engine);
    const r = await runContainer(engine.docker, { image: 'busybox:latest', cmd: ['sh', '-c', 'echo inside; cat /proc/1/cgroup | head -1'] });
    assert.equal(r.exitCode, 0);
    assert.match(r.stdout, /inside/);
  });
});

test('without the cgroup bind the nested daemon cannot start containers: read-only file system', async () => {
  await withEngine({ isolation: 'dind-caps', cgroupBind: false }, async (engine) => {
    await supply.preload(['busybox:latest'], engine);
    await assert.rejects(runContainer(engine.docker, { image: 'busybox:latest', cmd: ['true'] }), /read-only file system/);
  });
});

test('a daemon that cannot start is reported with the last lines of its own log', async () => {
  await assert.rejects(
    provision({ host, isolation: 'dind-caps', daemon: { storageDriver: 'no-such-driver' }, readyTimeoutMs: 8000 }),
    (err: unknown) => {
      assert.ok(err instanceof EngineNotReadyError);
      assert.match(err.logTail, /no-such-driver/);
      assert.match(err.hint, /nestor doctor/);
      return true;
    },
  );
  const left = await host.docker.listContainers({ all: true, filters: JSON.stringify({ label: ['dev.nestor.role=engine'] }) });
  assert.ok(!left.some((c) => c.Labels['dev.nestor.owner'] === processOwner()), 'the failed engine was removed');
});

test('a nested daemon killed from outside is reported unhealthy within 2 s', async () => {
  await withEngine({ isolation: 'dind-caps' }, async (engine) => {
    assert.equal((await engine.health()).healthy, true);
    await host.docker.getContainer(engine.containerId!).kill();
    const started = performance.now();
    const health = await engine.health(1500);
    const elapsed = performance.now() - started;
    assert.equal(health.healthy, false);
    assert.ok(elapsed < 2000, `reported in ${Math.round(elapsed)} ms`);
  });
});

test('host images are shared into a new engine read-only, layers and tags intact', async () => {
  const { Readable } = await import('node:stream');
  const { tarOf } = await import('../src/engine/archive.ts');
  const { consumeProgress } = await import('../src/engine/json-stream.ts');
  const { nestorLabels } = await import('../src/engine/labels.ts');
  const tag = `nestor-test/layered-${process.pid}:v1`;
  const context = await tarOf([
    { name: 'Dockerfile', content: 'FROM busybox:latest\nRUN echo one > /one\nRUN echo two > /two && rm /one\n' },
  ]);
  await consumeProgress('build', await host.docker.buildImage(Readable.from(context) as never, { t: tag, labels: nestorLabels('image') }));
  try {
    await withEngine({ isolation: 'dind-caps', images: [tag] }, async (engine) => {
      assert.deepEqual(engine.sharedImages, [tag]);
      const tags = (await engine.docker.listImages()).flatMap((i) => i.RepoTags ?? []);
      assert.ok(tags.includes(tag), `the nested engine lists ${tag}: ${tags.join(', ')}`);
      const run = await runContainer(engine.docker, {
        image: tag,
        cmd: ['sh', '-c', 'cat /two; test ! -e /one && echo deleted; echo mine > /mine && cat /mine'],
      });
      assert.equal(run.stdout, 'two\ndeleted\nmine\n', 'upper layers and whiteouts apply; the container writes its own layer');
      const top = ((await host.docker.getImage(tag).inspect()).GraphDriver.Data as { UpperDir?: string } | undefined)?.UpperDir?.split('/').at(-2);
      assert.match(top ?? '', /^[0-9a-f]{64}$/);
      const probe = await runContainer(engine.docker, {
        image: tag,
        cmd: ['sh', '-c', `touch /store/overlay2/${top}/diff/x 2>/dev/null && echo WRITABLE; ls /nestor/host 2>/dev/null || echo hidden`],
        binds: ['/var/lib/docker:/store'],
      });
      assert.equal(probe.stdout, 'hidden\n', 'shared layers are read-only and the host store is not visible to jobs');
    });
  } finally {
    await host.docker.getImage(tag).remove({ force: true });
  }
});
