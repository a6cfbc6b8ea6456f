// npm run bench:log-flood — a job printing 100 MB (on one line, then on a million lines) through
// a `nestor server` and a `nestor runner` process: the runner's RSS growth (target ≤ 30 MB) and
// the job's time, next to the same output piped by a raw `docker run` into `wc -c` on the same
// engine, measured in the same run. Each job gets a fresh runner (warmed up by one small job),
// so one flood's heap growth never hides the next one's.
import { spawn } from 'node:child_process';
import { FLOOD_BYTES, MILLION_LINES, ONE_LINE, rssOf, sampleRss } from './rss.ts';
import { REGISTRATION, api, freshStore, type BenchServer } from './server-harness.ts';
import { report } from './stats.ts';

const log = (s: string) => process.stderr.write(`${s}\n`);
const MB = 1024 * 1024;
const IMAGE = 'busybox:latest';
const NESTOR = new URL('../bin/nestor', import.meta.url).pathname;
const round = (bytes: number) => Math.round((bytes / MB) * 10) / 10;

function sh(command: string): Promise<{ ms: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const t = performance.now();
    const child = spawn('sh', ['-c', command], { stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve({ ms: performance.now() - t, stdout }) : reject(new Error(`${command} exited with ${code}`))));
  });
}

async function runJob(server: BenchServer, runner: string, name: string, command: string) {
  const job = await api<{ id: string }>(server.url, 'POST', '/api/jobs', { name, runner, retry: { policy: 'fail', max_attempts: 1 }, steps: [{ name: 'flood', run: command }] });
  for (;;) {
    const r = await api<{ status: string; error: string | null }>(server.url, 'GET', `/api/jobs/${job.body.id}`);
    if (['succeeded', 'failed', 'cancelled'].includes(r.body.status)) return { ...r.body, id: job.body.id };
    await new Promise((res) => setTimeout(res, 50));
  }
}

/** One job on a fresh runner process: its time, the runner's RSS growth, the lines stored. */
async function measure(server: BenchServer, key: string, command: string) {
  const name = `flood-${key.replace(/_/g, '-')}`;
  const runner = spawn(NESTOR, ['runner', '--server', server.url, '--token', REGISTRATION, '--name', name, '--max-jobs', '1', '--warm', '0'], {
    env: { ...process.env, LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise((res) => runner.once('exit', res));
  try {
    for (let i = 0; ; i++) {
      const r = await api<{ state: string }>(server.url, 'GET', `/api/runners/${name}/status`).catch(() => undefined);
      if (r?.status === 200 && r.body.state !== 'offline') break;
      if (i > 300) throw new Error('the runner did not register');
      await new Promise((res) => setTimeout(res, 100));
    }
    // A small job first, so the runner's code is loaded and its heap settled before measuring.
    await runJob(server, name, 'warm-up', 'echo hi');
    await new Promise((res) => setTimeout(res, 2000));
    const pid = runner.pid!;
    const before = rssOf(pid);
    const rss = sampleRss(pid, 25);
    const t = performance.now();
    const done = await runJob(server, name, key, command);
    const ms = Math.round(performance.now() - t);
    const growth = round(rss.stop() - before);
    if (done.status !== 'succeeded' || done.error) throw new Error(`${key}: ${JSON.stringify(done)}`);
    const [row] = await server.store.db.query<{ n: number }>('SELECT COUNT(*) AS n FROM job_logs WHERE job_id = $1', [done.id]);
    return { ms, growth, lines: Number(row!.n), idle: round(before) };
  } finally {
    runner.kill('SIGTERM');
    await exited;
  }
}

const { server } = await freshStore('embedded');
const out: Record<string, number> = {};
try {
  // What any job costs a runner (an engine's clients, TLS, timers), for the figures after it.
  const trivial = await measure(server, 'trivial', 'echo hi');
  out.runner_rss_growth_mb_trivial_job = trivial.growth;
  out.runner_rss_idle_mb = trivial.idle;
  for (const [key, command] of [['one_line', ONE_LINE], ['million_lines', MILLION_LINES]] as const) {
    const m = await measure(server, key, command);
    out[`runner_rss_growth_mb_${key}`] = m.growth;
    out[`job_${key}_ms`] = m.ms;
    out[`stored_lines_${key}`] = m.lines;
    const base = await sh(`docker run --rm ${IMAGE} sh -c "${command.replace(/"/g, '\\"')}" | wc -c`);
    if (Number(base.stdout.trim()) !== FLOOD_BYTES) throw new Error(`baseline printed ${base.stdout.trim()} bytes`);
    out[`baseline_docker_run_wc_${key}_ms`] = Math.round(base.ms);
    log(`${key}: job ${m.ms} ms, runner RSS +${m.growth} MB; raw docker run | wc -c ${out[`baseline_docker_run_wc_${key}_ms`]} ms`);
  }
} finally {
  await server.close();
}
report('log-flood', {
  runner_rss_growth_mb_one_line: out.runner_rss_growth_mb_one_line!,
  runner_rss_growth_mb_million_lines: out.runner_rss_growth_mb_million_lines!,
  target_rss_growth_mb: 30,
  ...out,
  output_bytes: FLOOD_BYTES,
});
process.exit(0);
