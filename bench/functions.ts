// npm run bench:functions — GitOps and the function gateway on a real engine: webhook to
// deployed (less the build itself), cold and warm invocations, 50 concurrent clients; next to
// `docker run` of the same image on the same engine, measured in the same run.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { attachEngine } from '../src/engine/nested/attach.ts';
import { functionEngineName } from '../src/gitops/function-engines.ts';
import { connect, ping } from '../src/engine/engine-client.ts';
import { endpointFromEnv } from '../src/engine/docker-host.ts';
import { SECRET, SHELL_FUNCTION, TestRepo, githubPush, gitopsServer, manifest } from '../test/gitops/fixture.ts';
import { ADMIN, api } from '../test/server/harness.ts';
import { percentile, report } from './stats.ts';

const log = (s: string) => process.stderr.write(`${s}\n`);
const host = connect(endpointFromEnv(process.env));
await ping(host, 5000);
const env = await gitopsServer(host, { buildWarm: 1 });
const base = env.server.url;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Deployment = { seq: number; commit: string; status: string; functions: { image: string; build_ms?: number }[] };
async function waitDeployed(commit: string): Promise<{ at: number; d: Deployment }> {
  for (;;) {
    const r = await api<{ deployments: Deployment[] }>(base, 'GET', '/api/apps/team/bench/deployments');
    const d = r.body.deployments.find((x) => x.commit === commit);
    if (d?.status === 'deployed') return { at: performance.now(), d };
    if (d?.status === 'failed') throw new Error(`deployment of ${commit} failed`);
    await sleep(10);
  }
}

const repo = new TestRepo();
const fns = `    - path: warm\n      context: fn\n      warm: 4\n      concurrency: 50\n    - path: cold\n      context: fn\n      warm: 0\n      idleTimeout: 0\n      concurrency: 50\n`;
const text = manifest('bench', repo.origin, fns);
await api(base, 'POST', '/api/apps', { manifest: text, webhook_secret: SECRET, auto_sync: false });

log('webhook → deployed, 5 rounds (a warm-up first)');
const overheads: number[] = [];
const totals: number[] = [];
const builds: number[] = [];
for (let round = 0; round <= 5; round++) {
  await sleep(2500); // lets the build-engine pool refill, as between pushes in real use
  const commit = repo.commit(`round ${round}`, { 'nestor.yaml': text, 'fn/Dockerfile': SHELL_FUNCTION(`r${round}`) });
  const t0 = performance.now();
  const res = await githubPush(base, repo.origin, commit);
  if (res.status !== 202) throw new Error(`webhook answered ${res.status}`);
  const { at, d } = await waitDeployed(commit);
  const build = d.functions.reduce((s, f) => s + (f.build_ms ?? 0), 0);
  if (round === 0) continue;
  totals.push(at - t0);
  builds.push(build);
  overheads.push(at - t0 - build);
  log(`  round ${round}: ${Math.round(at - t0)} ms, of which build ${build} ms`);
}

async function call(path: string): Promise<number> {
  const t = performance.now();
  const r = await fetch(`${base}/fn/team/${path}`, { method: 'POST', body: 'echo "$GREETING"' });
  await r.text();
  if (r.status !== 200) throw new Error(`${path} answered ${r.status}`);
  return performance.now() - t;
}

// warm 0 and idleTimeout 0: no instance waits and none is kept, so every call starts one.
log('cold invocations (no waiting instance), 30 calls');
const cold: number[] = [];
for (let i = 0; i < 30; i++) cold.push(await call('cold'));

log('warm invocations, 60 calls');
const warm: number[] = [];
for (let i = 0; i < 60; i++) {
  warm.push(await call('warm'));
  await sleep(120); // the next instance is started behind each call
}

async function burst(total: number): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  await Promise.all(Array.from({ length: 50 }, async () => {
    while (next < total) {
      next++;
      await call('warm');
    }
  }));
  return Math.round((total / ((performance.now() - t0) / 1000)) * 10) / 10;
}
log('50 concurrent clients: 100 calls to scale up (not counted), then 600 calls');
const scaleUpRps = await burst(100);
const rps = await burst(600);

const starts = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${ADMIN}` } }).then((r) => r.text());
const countOf = (start: string) => Number(new RegExp(`nestor_function_duration_seconds_count\\{start="${start}"\\} (\\d+)`).exec(starts)?.[1] ?? 0);

// The functions run in the application's own engine, so the baseline's docker run goes there
// too, with its client certificates (its server certificate names the engine, not this address).
log("baseline: docker run --rm -i of the same image on the same engine (the application's), 20 runs");
const image = (await api<{ deployments: Deployment[] }>(base, 'GET', '/api/apps/team/bench/deployments')).body.deployments[0]!.functions[0]!.image;
const appEngine = await attachEngine(host, functionEngineName({ namespace: 'team', name: 'bench' }));
const certs = mkdtempSync(join(tmpdir(), 'nestor-bench-certs-'));
for (const [file, text] of Object.entries({ 'ca.pem': appEngine.tls!.ca, 'cert.pem': appEngine.tls!.cert, 'key.pem': appEngine.tls!.key })) writeFileSync(join(certs, file), text, { mode: 0o600 });
const at = appEngine.client.endpoint as { host: string; port: number };
const dockerArgs = ['--tls', '--tlscacert', join(certs, 'ca.pem'), '--tlscert', join(certs, 'cert.pem'), '--tlskey', join(certs, 'key.pem'), '-H', `tcp://${at.host}:${at.port}`];
const raw: number[] = [];
for (let i = 0; i < 20; i++) {
  const t = performance.now();
  execFileSync('docker', [...dockerArgs, 'run', '--rm', '-i', '--network', 'none', image], { input: 'echo "$GREETING"' });
  raw.push(performance.now() - t);
}
rmSync(certs, { recursive: true, force: true });

await api(base, 'DELETE', '/api/apps/team/bench');
await env.close();

report('functions', {
  webhook_to_deployed_overhead_ms: percentile(overheads, 50),
  invoke_cold_p50_ms: percentile(cold, 50),
  invoke_warm_p50_ms: percentile(warm, 50),
  invoke_warm_p99_ms: percentile(warm, 99),
  invoke_50_concurrent_rps: rps,
  invoke_50_concurrent_scale_up_rps: scaleUpRps,
  webhook_to_deployed_overhead_p95_ms: percentile(overheads, 95),
  webhook_to_deployed_total_p50_ms: percentile(totals, 50),
  build_p50_ms: percentile(builds, 50),
  invoke_cold_p95_ms: percentile(cold, 95),
  invoke_warm_p95_ms: percentile(warm, 95),
  starts_counted: { cold: countOf('cold'), warm: countOf('warm') },
  baseline_docker_run_p50_ms: percentile(raw, 50),
  baseline_docker_run_p95_ms: percentile(raw, 95),
  targets: { webhook_to_deployed_overhead_ms: 1000, invoke_cold_p50_ms: 500, invoke_warm_p50_ms: 30 },
  rounds: overheads.length,
});
process.exit(0);
