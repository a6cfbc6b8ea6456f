// npm run bench:server — the API and queue under load, for the embedded store and PostgreSQL,
// next to baselines measured in the same run (/health for the HTTP stack, a raw docker run on a
// warm nested engine for the end-to-end job, a POST /api/jobs of the same step for a push's
// pipeline, a loop of `git ls-remote` for polling 1,000 repositories).
// The repository figures (push → first step, about 6 minutes here, as each run waits for a full
// warm pool; polling 1,000 repositories, about 2) are measured on the embedded store:
// BENCH_REPOS=all measures them on PostgreSQL too (whose own CPU, in another process, the polling
// figure does not count), BENCH_REPOS=0 leaves them out.
const REPOS_ON: readonly string[] = process.env.BENCH_REPOS === '0' ? [] : process.env.BENCH_REPOS === 'all' ? ['embedded', 'postgres'] : ['embedded'];
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import pino from 'pino';
import { connect, ping } from '../src/engine/engine-client.ts';
import { endpointFromEnv } from '../src/engine/docker-host.ts';
import { ImageSupply, pullInto } from '../src/engine/images/supply.ts';
import { EnginePool } from '../src/engine/pool.ts';
import { runContainer } from '../src/engine/run-container.ts';
import { RunnerAgent } from '../src/runner/agent.ts';
import { ADMIN, REGISTRATION, SECRET_KEY, api, freshStore, tempDir } from './server-harness.ts';
import { HttpLoad } from './http-load.ts';
import { percentile, report } from './stats.ts';
import { pushToFirstStep } from './repo-push.ts';
import { poll1000Repos } from './repo-poll.ts';

const log = (s: string) => process.stderr.write(`${s}\n`);
const CONCURRENCY = 50;

async function idleRss(kind: 'embedded' | 'postgres', databaseUrl: string | undefined): Promise<number> {
  const child = spawn(new URL('../bin/nestor', import.meta.url).pathname, ['server', '--port', '0', '--data-dir', tempDir()], {
    env: { ...process.env, NESTOR_ADMIN_TOKEN: ADMIN, NESTOR_REGISTRATION_TOKEN: REGISTRATION, NESTOR_SECRET_KEY: SECRET_KEY, ...(databaseUrl ? { NESTOR_DATABASE_URL: databaseUrl } : {}) },
    stdio: 'ignore',
  });
  await new Promise((r) => setTimeout(r, 4000));
  const kb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1] ?? 0);
  child.kill('SIGTERM');
  log(`[${kind}] idle server RSS ${Math.round(kb / 1024)} MB`);
  return Math.round(kb / 102.4) / 10;
}

const host = connect(endpointFromEnv(process.env));
await ping(host);
const supply = await ImageSupply.start(host);
const results: Record<string, Record<string, number | string>> = {};

for (const kind of ['embedded', 'postgres'] as const) {
  const { server, databaseUrl } = await freshStore(kind);
  const url = server.url;
  const out: Record<string, number | string> = {};

  const http = new HttpLoad(url, ADMIN, CONCURRENCY);
  // The same 50 clients on the cheapest route: what this machine's HTTP stack costs by itself.
  const health = await http.run({ total: 3000, clients: CONCURRENCY, warmup: 500 }, async () => {
    if ((await http.request('GET', '/health')).status !== 200) throw new Error('health failed');
  });
  out.baseline_health_rps = health.rps;
  out.baseline_health_p99_ms = health.p99_ms;

  const ids: string[] = [];
  // Measured after a warm-up, as a server that has been up for a while answers.
  const submit = await http.run({ total: 2000, clients: CONCURRENCY, warmup: 500 }, async (i) => {
    const r = await http.request('POST', '/api/jobs', { name: `bench-${i}`, steps: [{ name: 's', run: 'true' }] });
    if (r.status !== 201) throw new Error(`submit failed: ${r.status} ${r.text}`);
    ids.push((JSON.parse(r.text) as { id: string }).id);
  });
  out.submit_rps = submit.rps;
  out.submit_p50_ms = submit.p50_ms;
  out.submit_p99_ms = submit.p99_ms;
  log(`[${kind}] submit ${submit.rps}/s p99 ${out.submit_p99_ms} ms (health ${health.rps}/s p99 ${health.p99_ms} ms)`);

  const status = await http.run({ total: 4000, clients: CONCURRENCY, warmup: 500 }, async (i) => {
    if ((await http.request('GET', `/api/jobs/${ids[i % ids.length]}`)).status !== 200) throw new Error('status failed');
  });
  out.status_rps = status.rps;
  out.status_p99_ms = status.p99_ms;
  http.close();

  // Lease latency with 10,000 jobs queued (the 2,500 above plus 7,500 more, written directly).
  for (let i = 0; i < 7500; i++) await server.store.createJob({ name: `fill-${i}`, spec: { pipeline: { text: '{}', file: 'x.json' } } });
  const reg = await api<{ token: string }>(url, 'POST', '/api/runners/register', { name: 'bench-leaser', max_jobs: 256 }, REGISTRATION);
  const leaser = new HttpLoad(url, reg.body.token, 1);
  const leases: number[] = [];
  for (let i = 0; i < 220; i++) {
    const t = performance.now();
    const r = await leaser.request('POST', '/api/runner/lease', { wait_ms: 0 });
    // The first 20 warm the route up, as for the other figures.
    if (i >= 20) leases.push(performance.now() - t);
    if (r.status !== 200) throw new Error(`lease failed: ${r.status} ${r.text}`);
    const { job, lease } = JSON.parse(r.text) as { job: { id: string }; lease: { token: string } };
    if ((await leaser.request('POST', `/api/runner/jobs/${job.id}/complete`, { lease: lease.token, status: 'succeeded' })).status !== 200) throw new Error('complete failed');
  }
  leaser.close();
  out.lease_p50_ms_10k_queued = percentile(leases, 50);
  out.lease_p99_ms_10k_queued = percentile(leases, 99);
  log(`[${kind}] lease p99 ${out.lease_p99_ms_10k_queued} ms with 10,000 queued`);
  await server.store.db.query("UPDATE jobs SET status = 'cancelled' WHERE status = 'queued'");

  // End to end: submit → succeeded for a one-step echo job, warm engines, a local runner.
  const runnerToken = (await api<{ token: string }>(url, 'POST', '/api/runners/register', { name: 'bench-runner', max_jobs: 1 }, REGISTRATION)).body.token;
  const repoCacheDir = tempDir();
  const agent = new RunnerAgent({ server: url, token: runnerToken, name: 'bench-runner', maxJobs: 1, labels: [], host, supply, warm: 2, repoCacheDir, log: pino({ level: 'silent' }) });
  await agent.start();
  // A warm pool, as an idle runner has it: both engines ready with their step slots.
  const warm = async () => {
    for (let waited = 0; agent.readyEngines < 2 && waited < 30_000; waited += 50) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300));
  };
  const e2e: number[] = [];
  for (let i = 0; i < 10; i++) {
    await warm();
    const t = performance.now();
    const job = await api<{ id: string }>(url, 'POST', '/api/jobs', { name: 'trivial', runner: 'bench-runner', steps: [{ name: 'echo', run: 'echo hi' }] });
    for (;;) {
      const s = await api<{ status: string }>(url, 'GET', `/api/jobs/${job.body.id}`);
      if (s.body.status === 'succeeded') break;
      if (s.body.status === 'failed') throw new Error(JSON.stringify(s.body));
      await new Promise((r) => setTimeout(r, 5));
    }
    e2e.push(performance.now() - t);
  }

  if (REPOS_ON.includes(kind)) {
    Object.assign(out, await pushToFirstStep(url, warm));
    log(`[${kind}] push → first step p50 ${out.push_to_first_step_p50_ms} ms (POST /api/jobs → first step ${out.api_submit_to_first_step_p50_ms} ms, ×${out.push_to_first_step_ratio})`);
  }
  await agent.stop();
  rmSync(repoCacheDir, { recursive: true, force: true });
  out.e2e_trivial_p50_ms = percentile(e2e, 50);
  out.e2e_trivial_p95_ms = percentile(e2e, 95);
  log(`[${kind}] trivial job end to end p50 ${out.e2e_trivial_p50_ms} ms`);
  await server.close();
  out.rss_idle_mb = await idleRss(kind, databaseUrl);
  results[kind] = out;
}

// Baseline for the end-to-end figure: the same echo by a raw run on a warm nested engine.
const pool = new EnginePool({ size: 1, engine: { host, daemon: supply.daemonOptions(), images: ['busybox:latest'] } });
await pool.start();
const raw: number[] = [];
for (let i = 0; i < 10; i++) {
  while (pool.available < 1) await new Promise((r) => setTimeout(r, 20));
  const e = await pool.acquire();
  // A rootless engine shares no layers with the host: the image comes from the supply, untimed,
  // as a warm engine's step image is there before its job.
  await pullInto(e, 'busybox:latest');
  const t = performance.now();
  await runContainer(e.docker, { image: 'busybox:latest', cmd: ['echo', 'hi'], network: 'host' });
  raw.push(performance.now() - t);
  await pool.release(e);
}
await pool.close();
await supply.close();

// Polling, on a server of its own: 1,000 repositories would weigh on the figures above.
for (const kind of ['embedded', 'postgres'] as const) if (REPOS_ON.includes(kind)) Object.assign(results[kind]!, await poll1000Repos(kind, log));
const top = (key: string) => (results.embedded![key] !== undefined ? { [key]: results.embedded![key]! } : {});

report('server', {
  submit_rps: results.embedded!.submit_rps!,
  submit_p99_ms: results.embedded!.submit_p99_ms!,
  status_rps: results.embedded!.status_rps!,
  e2e_trivial_p50_ms: results.embedded!.e2e_trivial_p50_ms!,
  lease_p99_ms_10k_queued: results.embedded!.lease_p99_ms_10k_queued!,
  rss_idle_mb: results.embedded!.rss_idle_mb!,
  ...top('push_to_first_step_p50_ms'),
  ...top('api_submit_to_first_step_p50_ms'),
  ...top('push_to_first_step_ratio'),
  ...top('poll_1000_repos_cpu_s'),
  ...top('baseline_ls_remote_1000_cpu_s'),
  ...top('poll_1000_ratio'),
  embedded: results.embedded,
  postgres: results.postgres,
  baseline_raw_docker_run_warm_engine_p50_ms: percentile(raw, 50),
  clients: CONCURRENCY,
});
process.exit(0);
