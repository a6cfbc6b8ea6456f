import assert from 'node:assert/strict';
import { existsSync, readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

/**
 * What the host itself says about a container's processes: read from the host's /proc, not
 * asked of any engine, so that nothing the job or function controls can answer for it.
 */

function linkOf(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return '';
  }
}

/** Every process in the container's cgroups, nested ones included (cgroup v1 or v2). */
export function processesOf(id: string): number[] {
  const roots = [`/sys/fs/cgroup/pids/docker/${id}`, `/sys/fs/cgroup/memory/docker/${id}`, `/sys/fs/cgroup/system.slice/docker-${id}.scope`].filter(existsSync);
  const pids = new Set<number>();
  const walk = (dir: string) => {
    for (const line of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n')) if (line.trim()) pids.add(Number(line));
    for (const entry of readdirSync(dir, { withFileTypes: true })) if (entry.isDirectory()) walk(join(dir, entry.name));
  };
  for (const root of roots) walk(root);
  return [...pids].filter((p) => existsSync(`/proc/${p}`));
}

/** The process's command line, for messages. */
export function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
  } catch {
    return '';
  }
}

/** None of `pids` runs as host uid or gid 0, and none holds a capability in the host's user namespace. */
export function assertNoHostPrivilege(pids: number[]): void {
  const hostNs = linkOf('/proc/1/ns/user');
  for (const pid of pids) {
    let status: string;
    try {
      status = readFileSync(`/proc/${pid}/status`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(status)?.[1]?.trim() ?? '';
    const what = `${pid} (${field('Name')})`;
    assert.ok(!field('Uid').split(/\s+/).includes('0'), `${what} runs as host uid 0: Uid ${field('Uid')}`);
    assert.ok(!field('Gid').split(/\s+/).includes('0'), `${what} runs as host gid 0: Gid ${field('Gid')}`);
    if (linkOf(`/proc/${pid}/ns/user`) === hostNs) {
      assert.equal(BigInt(`0x${field('CapEff')}`), 0n, `${what} holds capabilities in the host user namespace: CapEff ${field('CapEff')}`);
      assert.equal(BigInt(`0x${field('CapPrm')}`), 0n, `${what} may take capabilities in the host user namespace: CapPrm ${field('CapPrm')}`);
    }
  }
}
