import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { nestorLabels } from '../src/engine/labels.ts';
import { hostEngine, nestor } from './helpers.ts';

const host = await hostEngine();
const id = randomBytes(3).toString('hex');
const repo = `nestor-prune-${id}/fn`;
const unlabelled = `nestor-prune-${id}-user`;

after(async () => {
  for (const c of await host.docker.listContainers({ all: true, filters: JSON.stringify({ name: [`nestor-prune-${id}`] }) })) {
    await host.docker.getContainer(c.Id).remove({ force: true });
  }
  for (const t of ['1', '2', '3']) await host.docker.getImage(`${repo}:${t}`).remove({ force: true }).catch(() => undefined);
  await host.docker.getNetwork(unlabelled).remove().catch(() => undefined);
});

test('prune removes Nestor\'s stopped containers, unused networks and volumes and old images, keeping the newest', async () => {
  const stopped = await host.docker.createContainer({ name: `nestor-prune-${id}-stopped`, Image: 'busybox:latest', Cmd: ['true'], Labels: nestorLabels('probe') });
  await host.docker.createNetwork({ Name: `nestor-prune-${id}-net`, Labels: nestorLabels('network') });
  await host.docker.createVolume({ Name: `nestor-prune-${id}-vol`, Labels: nestorLabels('storage') });
  await host.docker.createNetwork({ Name: unlabelled });
  for (const t of ['1', '2', '3']) {
    // Three labelled images of one repository, committed one after another so their ages differ.
    await stopped.commit({ repo, tag: t, changes: [`LABEL dev.nestor.managed=true`, `LABEL build=${t}`] } as never);
    await new Promise((r) => setTimeout(r, 1100));
  }

  const dry = await nestor(['prune', '--until', '0s', '--keep', '1', '--dry-run', '--json']);
  assert.equal(dry.code, 0, dry.stderr);
  const planned = JSON.parse(dry.stdout) as { containers: string[]; images: string[] };
  assert.ok(planned.containers.includes(`nestor-prune-${id}-stopped`));
  assert.ok((await host.docker.getContainer(stopped.id).inspect()).Id, '--dry-run removed nothing');

  const r = await nestor(['prune', '--until', '0s', '--keep', '1', '--json']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as { containers: string[]; networks: string[]; volumes: string[]; images: string[] };
  assert.ok(report.containers.includes(`nestor-prune-${id}-stopped`));
  assert.ok(report.networks.includes(`nestor-prune-${id}-net`));
  assert.ok(report.volumes.includes(`nestor-prune-${id}-vol`));
  assert.deepEqual(report.images.filter((i) => i.startsWith(repo)).sort(), [`${repo}:1`, `${repo}:2`]);
  assert.ok(await host.docker.getImage(`${repo}:3`).inspect(), 'the newest image of the repository stays');
  assert.ok(!report.networks.includes(unlabelled), 'an object Nestor did not make is left alone');
  assert.ok(await host.docker.getNetwork(unlabelled).inspect());
});

test('a bad --until is a clear error', async () => {
  const r = await nestor(['prune', '--until', 'yesterday']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /not a duration[\s\S]*--until 24h/);
});
