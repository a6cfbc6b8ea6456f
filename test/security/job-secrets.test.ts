import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { LABEL_MANAGED } from '../../src/engine/labels.ts';
import { hostEngine, nestor } from '../helpers.ts';

const VALUE = 'job-secret-3f9d-canary';

/**
 * A job's steps share its engine, but what the host engine shows of the job (the sidecar's
 * configuration, labels, command line, processes; the job's networks and volumes) must not
 * hold a secret: anyone with the host engine, or its logs and inspect output, would read it.
 */
test('a job\'s secret is not in the host engine\'s view of the job: containers, processes, networks, volumes', { timeout: 180_000 }, async () => {
  const host = await hostEngine();
  const dir = mkdtempSync(join(tmpdir(), 'nestor-job-secret-'));
  // The file names the secret's hash only: the value itself must come from the secret.
  const hash = createHash('sha256').update(VALUE).digest('hex');
  writeFileSync(join(dir, '.nestor.yml'), `steps:\n  - name: hold\n    image: busybox\n    secrets: [TOKEN]\n    commands:\n      - test "$(printf %s "$TOKEN" | sha256sum | cut -d' ' -f1)" = ${hash} && echo "the step has its secret"\n      - sleep 8\n`);
  const running = nestor(['run', '-C', dir, '-s', `TOKEN=${VALUE}`]);
  let finished = false;
  void running.finally(() => (finished = true));
  const seen = new Set<string>();
  const views: string[] = [];
  const filters = JSON.stringify({ label: [`${LABEL_MANAGED}=true`] });
  while (!finished) {
    for (const c of await host.docker.listContainers({ all: true, filters })) {
      const container = host.docker.getContainer(c.Id);
      const info = await container.inspect().catch(() => undefined);
      if (!info) continue;
      seen.add(`${c.Labels['dev.nestor.role'] ?? '?'}:${c.Id}`);
      views.push(JSON.stringify(info));
      if (info.State.Running) views.push(JSON.stringify(await container.top({ ps_args: 'axww' }).catch(() => ({}))));
    }
    for (const n of await host.docker.listNetworks({ filters })) views.push(JSON.stringify(await host.docker.getNetwork(n.Id).inspect().catch(() => ({}))));
    for (const v of (await host.docker.listVolumes({ filters })).Volumes ?? []) views.push(JSON.stringify(v));
    await new Promise((r) => setTimeout(r, 300));
  }
  const r = await running;
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /the step has its secret/);
  assert.ok([...seen].some((s) => s.startsWith('engine:')), `the job's engine was looked at while the step ran: ${[...seen].join(', ')}`);
  for (const view of views) assert.ok(!view.includes(VALUE), `the secret shows in the host engine's view: ${view.slice(Math.max(0, view.indexOf(VALUE) - 200), view.indexOf(VALUE) + 50)}`);
  assert.ok(!(r.stdout + r.stderr).includes(VALUE), 'nor in the run\'s output');
});
