// poll_1000_repos: the server's CPU over one minute with 1,000 polled repositories (60 s interval,
// none changing), next to what 1,000 `git ls-remote` of the same repositories cost, in a row.
//
// The server's CPU is its own (every thread: the event loop, the store, workers) plus that of the
// children it reaped, read from /proc/PID/stat; the baseline's is that of one bash loop, read by
// /usr/bin/time, whose wait4() rusage holds bash and every git it ran (each git ls-remote of a
// file:// URL runs git-upload-pack below it). Both are clock ticks of the same kernel accounting.
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { api, freshStore, tempDir } from './server-harness.ts';
import { BenchRepo } from './git-fixture.ts';

const TICK_S = 1 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim() || 100);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
type Shown = { name: string; poll: { next_at: string | null; refs_seen: number | null; error: string | null } };

/** utime + stime + cutime + cstime of a process, in seconds. */
function cpuOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after "pid (comm) ": the name may hold spaces, so split after its closing parenthesis.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ').map(Number);
  return (f[11]! + f[12]! + f[13]! + f[14]!) * TICK_S;
}

/** Copies of one bare repository with one pushed commit: `cp -r` is cheaper than 1,000 pushes. */
function makeRepos(root: string, n: number): string[] {
  const seed = new BenchRepo(join(root, 'seed'));
  seed.commit({ '.nestor.yml': 'steps:\n  - name: s\n    commands: [echo polled]\n' }, 'first');
  const dir = join(root, 'repos');
  execFileSync('bash', ['-c', 'mkdir -p "$1" && for i in $(seq -w 0 $(($3 - 1))); do cp -r "$2" "$1/r$i.git"; done', 'bash', dir, seed.bare, String(n)]);
  return Array.from({ length: n }, (_, i) => join(dir, `r${String(i).padStart(String(n - 1).length, '0')}.git`));
}

/** CPU seconds of `git ls-remote file://…` of each repository in turn, from one bash child. */
function lsRemoteCpu(paths: string[], root: string): { cpuS: number; wallMs: number } {
  const list = join(root, 'list');
  execFileSync('bash', ['-c', 'printf "%s\\n" "${@:2}" > "$1"', 'bash', list, ...paths]);
  const out = join(root, 'time');
  const t = performance.now();
  execFileSync('/usr/bin/time', ['-f', '%U %S', '-o', out, 'bash', '-c', 'while read -r d; do git ls-remote "file://$d" > /dev/null; done < "$1"', 'bash', list], { env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' } });
  const wallMs = performance.now() - t;
  const [user, sys] = readFileSync(out, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
  return { cpuS: user! + sys!, wallMs };
}

export async function poll1000Repos(kind: 'embedded' | 'postgres', log: (s: string) => void, n = 1000, windowS = 60): Promise<Record<string, number>> {
  const root = tempDir();
  const { server } = await freshStore(kind);
  try {
    const paths = makeRepos(root, n);
    const baseline = lsRemoteCpu(paths, root);
    log(`[${kind}] ${n} × git ls-remote: ${baseline.cpuS.toFixed(2)} s CPU in ${Math.round(baseline.wallMs)} ms`);

    const queue = paths.map((p, i) => ({ p, i }));
    await Promise.all(Array.from({ length: 8 }, async () => {
      for (let r = queue.shift(); r; r = queue.shift()) {
        const added = await api(server.url, 'POST', '/api/repos', { url: `file://${r.p}`, name: `poll/r${r.i}`, poll_interval_s: 60 });
        if (added.status !== 201) throw new Error(`repos add: ${added.status} ${JSON.stringify(added.body)}`);
      }
    }));
    const shown = async () => (await api<{ repos: Shown[] }>(server.url, 'GET', '/api/repos')).body.repos.filter((r) => r.name.startsWith('poll/'));
    // A repository's first poll records its refs (the baseline of later polls) and runs nothing.
    const settleStart = performance.now();
    let before: Shown[];
    for (;;) {
      before = await shown();
      if (before.length === n && before.every((r) => r.poll.refs_seen !== null)) break;
      if (performance.now() - settleStart > 120_000) throw new Error(`${before.filter((r) => r.poll.refs_seen !== null).length} of ${n} repositories polled after 120 s`);
      await sleep(1000);
    }
    log(`[${kind}] ${n} repositories added and polled once; ${Math.round((performance.now() - settleStart) / 1000)} s to settle`);

    // The window: nothing but the server's own polling (the bench sends it nothing).
    const cpu0 = cpuOf(server.pid);
    const t0 = performance.now();
    await sleep(windowS * 1000);
    const cpuS = cpuOf(server.pid) - cpu0;
    const elapsedS = (performance.now() - t0) / 1000;

    const after = await shown();
    const nextAt = new Map(before.map((r) => [r.name, r.poll.next_at]));
    const polled = after.filter((r) => r.poll.next_at !== nextAt.get(r.name)).length;
    const errors = after.filter((r) => r.poll.error).length;
    const perMinute = Math.round((cpuS * 60 / elapsedS) * 1000) / 1000;
    log(`[${kind}] polling ${n} repositories: ${perMinute} s CPU a minute (${polled} polled in the window, ${errors} failing)`);
    return {
      poll_1000_repos_cpu_s: perMinute,
      baseline_ls_remote_1000_cpu_s: Math.round(baseline.cpuS * 1000) / 1000,
      poll_1000_ratio: Math.round((perMinute / baseline.cpuS) * 100) / 100,
      poll_1000_polled_in_window: polled,
      poll_1000_failing: errors,
      baseline_ls_remote_1000_wall_ms: Math.round(baseline.wallMs),
    };
  } finally {
    await server.close();
    rmSync(root, { recursive: true, force: true });
  }
}
