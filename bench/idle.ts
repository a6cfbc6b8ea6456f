// npm run bench:idle — what an idle `nestor up` costs with a runner's default warm pool
// (`--warm` and `--max-jobs` as `nestor runner` takes them on this machine, each warm engine with
// its step slots and GitHub job container): CPU of its whole process tree and of every
// dev.nestor container (from their cgroups) over 60 s, once the demo has run and the warm pool
// has refilled; next to a bare DinD sidecar started by `docker run` and left idle
// in the same window (the floor for one engine kept warm). Also the demo's engine start next
// to a later one, and what the idle server sent and logged.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, readdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, ping } from '../src/engine/engine-client.ts';
import { endpointFromEnv } from '../src/engine/docker-host.ts';
import { dindImage } from '../src/engine/images/local-images.ts';
import { report } from './stats.ts';
import { defaultMaxJobs } from '../src/config.ts';

const SECONDS = Number(process.env.BENCH_IDLE_SECONDS ?? 60);
const WARM = Number(process.env.BENCH_IDLE_WARM ?? defaultMaxJobs());
const TICK = 100; // clock ticks per second (getconf CLK_TCK)
const log = (s: string) => process.stderr.write(`${s}\n`);
const root = new URL('..', import.meta.url).pathname;

const host = connect(endpointFromEnv(process.env));
await ping(host);

/** CPU seconds used so far by `pid` and every process below it. */
function treeCpuSeconds(pid: number): number {
  const parents = new Map<number, number>();
  const cpu = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      parents.set(Number(entry), Number(f[1]));
      cpu.set(Number(entry), (Number(f[11]) + Number(f[12])) / TICK);
    } catch {
      // gone meanwhile
    }
  }
  const inTree = (p: number): boolean => p === pid || (p > 1 && parents.has(p) && inTree(parents.get(p)!));
  let total = 0;
  for (const [p, s] of cpu) if (inTree(p)) total += s;
  return total;
}

/**
 * CPU seconds used so far by each running container with the given label (cgroup v1 cpuacct,
 * or v2), paused ones included; `keep` picks among them (another process's engines are not ours).
 */
async function containersCpuSeconds(label: string, keep: (labels: Record<string, string>) => boolean = () => true): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const c of await host.docker.listContainers({ filters: JSON.stringify({ label: [label] }) })) {
    if (!keep(c.Labels)) continue;
    for (const path of [`/sys/fs/cgroup/cpuacct/docker/${c.Id}/cpuacct.usage`, `/sys/fs/cgroup/system.slice/docker-${c.Id}.scope/cpu.stat`]) {
      try {
        const text = readFileSync(path, 'utf8');
        out.set(c.Names[0]!, path.endsWith('cpu.stat') ? Number(/usage_usec (\d+)/.exec(text)![1]) / 1e6 : Number(text) / 1e9);
        break;
      } catch {
        // the other cgroup layout
      }
    }
  }
  return out;
}

const delta = (after: Map<string, number>, before: Map<string, number>) => [...after].reduce((sum, [k, v]) => sum + (before.has(k) ? v - before.get(k)! : 0), 0);

// The baseline: a bare DinD sidecar, flags as ENVIRONMENT.md gives them for this kind of host.
const image = await dindImage(host.docker);
const bare = execFileSync('docker', ['run', '-d', '--rm', '--label', 'dev.nestor.bench=idle-baseline', '--cap-add', 'ALL', '--cap-drop', 'SYS_RESOURCE', '--security-opt', 'seccomp=unconfined', '--security-opt', 'apparmor=unconfined', '--device-cgroup-rule', 'a *:* rwm', '-v', '/sys/fs/cgroup:/sys/fs/cgroup:rw', '--tmpfs', '/var/lib/docker:exec', image, 'dockerd'], { encoding: 'utf8' }).trim();

const port = 20000 + Math.floor(Math.random() * 20000);
const child = spawn(`${root}bin/nestor`, ['up', '--max-jobs', String(Math.max(WARM, 1)), '--warm', String(WARM), '--port', String(port), '--data-dir', mkdtempSync(join(tmpdir(), 'nestor-idle-'))], {
  env: { ...process.env, NESTOR_LOG_FORMAT: 'json', NESTOR_LOG_LEVEL: 'debug' },
  stdio: ['ignore', 'pipe', 'pipe'],
});
let out = '';
child.stdout.on('data', (b: Buffer) => (out += b));
child.stderr.on('data', (b: Buffer) => (out += b));
const lines = () => out.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { level: number; msg: string; url?: string; readyMs?: number; time: number });
try {
  for (const started = Date.now(); !/demo job (succeeded|failed)/.test(out); ) {
    if (Date.now() - started > 180_000 || child.exitCode !== null) throw new Error(`the demo did not finish:\n${out}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const demoReady = Number(/engine \S+ \([\w-]+\) ready in (\d+) ms/.exec(out)?.[1]);
  // The warm pool refills after the demo: wait for every engine of it (the demo took one),
  // then for things to settle and the idle engines to be frozen (5 s after they are ready).
  const demoDone = Date.now();
  while (lines().filter((l) => l.msg === 'engine ready').length < WARM + 1 && Date.now() - demoDone < 120_000) await new Promise((r) => setTimeout(r, 250));
  await new Promise((r) => setTimeout(r, 8000));

  log(`measuring ${SECONDS} s of rest…`);
  const from = lines().length;
  const t0 = performance.now();
  const tree0 = treeCpuSeconds(child.pid!);
  // The process's own containers, and the shared image cache it started or uses.
  const ours = (l: Record<string, string>) => l['dev.nestor.owner.pid'] === String(child.pid) || l['dev.nestor.persistent'] === 'true';
  const nestor0 = await containersCpuSeconds('dev.nestor.managed', ours);
  const base0 = await containersCpuSeconds('dev.nestor.bench=idle-baseline');
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const tree1 = treeCpuSeconds(child.pid!);
  const nestor1 = await containersCpuSeconds('dev.nestor.managed', ours);
  const base1 = await containersCpuSeconds('dev.nestor.bench=idle-baseline');
  const wall = (performance.now() - t0) / 1000;
  const window = lines().slice(from);
  const pct = (s: number) => Math.round((s / wall) * 100 * 1000) / 1000;
  const processPct = pct(tree1 - tree0);
  const containersPct = pct(delta(nestor1, nestor0));
  report('idle', {
    seconds: Math.round(wall),
    warm_engines: WARM,
    idle_cpu_percent_of_core: Math.round((processPct + containersPct) * 1000) / 1000,
    process_tree_percent: processPct,
    containers_percent: containersPct,
    containers: [...nestor1.keys()],
    baseline_bare_dind_percent: pct(delta(base1, base0)),
    lease_requests: window.filter((l) => l.msg === 'request' && l.url === '/api/runner/lease').length,
    info_lines: window.filter((l) => l.level >= 30).length,
    demo_engine_ready_ms: demoReady,
    // Every engine the runner started, in order: the demo's (the first) next to the refill after it.
    engines_ready_ms: lines().filter((l) => l.msg === 'engine ready').map((l) => l.readyMs),
    target: 'idle_cpu_percent_of_core < 1',
  });
} finally {
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  execFileSync('docker', ['rm', '-f', bare], { stdio: 'ignore' });
}
