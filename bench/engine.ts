// npm run bench:engine — nested engine start, warm acquire, run overhead and image supply,
// each next to a baseline measured in the same run on the same engine.
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { connect, ping } from '../src/engine/engine-client.ts';
import { endpointFromEnv } from '../src/engine/docker-host.ts';
import { provision } from '../src/engine/nested/provision.ts';
import { EnginePool } from '../src/engine/pool.ts';
import { ImageSupply, pullInto } from '../src/engine/images/supply.ts';
import { runContainer } from '../src/engine/run-container.ts';
import { tarOf } from '../src/engine/archive.ts';
import { consumeProgress } from '../src/engine/json-stream.ts';
import { nestorLabels } from '../src/engine/labels.ts';
import { percentile, report, timeIt } from './stats.ts';
import { execFileSync } from 'node:child_process';
import { rootlessImage } from '../src/engine/images/local-images.ts';

const RUNS = Number(process.env.BENCH_RUNS ?? 10);
const BASELINE_RUNS = Number(process.env.BENCH_BASELINE_RUNS ?? 5);
const log = (s: string) => process.stderr.write(`${s}\n`);

const host = connect(endpointFromEnv(process.env));
await ping(host);
const supply = await ImageSupply.start(host);
const engineOpts = { host, isolation: 'auto' as const, daemon: supply.daemonOptions() };
const image = 'busybox:latest';

// Cold start: from nothing to a daemon answering over TLS.
const cold: number[] = [];
for (let i = 0; i < RUNS; i++) {
  const e = await provision(engineOpts);
  cold.push(e.readyMs);
  await e.destroy();
}
log(`cold start p50 ${percentile(cold, 50)} ms`);

// The default mode (rootless) next to its floor, a bare rootless DinD container of the same
// image and flags started by `docker run` and asked `docker version` on its unix socket, and
// next to today's trusted dind-caps engine: interleaved, so they share the machine's state.
const defaultCold: number[] = [];
const floor: number[] = [];
const capsCold: number[] = [];
const rootless = await rootlessImage(host.docker);
for (let i = 0; i < RUNS; i++) {
  const d = await provision(engineOpts);
  if (d.isolation !== 'rootless') throw new Error(`the default mode here is ${d.isolation}, not rootless`);
  defaultCold.push(d.readyMs);
  await d.destroy();
  floor.push(bareRootlessReadyMs(rootless));
  const c = await provision({ ...engineOpts, isolation: 'dind-caps' });
  capsCold.push(c.readyMs);
  await c.destroy();
}
log(`default (rootless) cold p50 ${percentile(defaultCold, 50)} ms, bare rootless floor ${percentile(floor, 50)} ms, dind-caps ${percentile(capsCold, 50)} ms`);

// Warm acquire from a pool of one, waiting for the refill between runs.
const pool = new EnginePool({ size: 1, engine: engineOpts });
await pool.start();
const warm: number[] = [];
for (let i = 0; i < RUNS; i++) {
  while (pool.available < 1) await new Promise((r) => setTimeout(r, 20));
  let e;
  warm.push(await timeIt(async () => (e = await pool.acquire())));
  await pool.release(e!);
}
log(`warm acquire p50 ${percentile(warm, 50)} ms`);

// One container run, host engine versus nested engine, through the same API calls.
while (pool.available < 1) await new Promise((r) => setTimeout(r, 20));
const nested = await pool.acquire();
await supply.preload([image], nested);
const hostRun: number[] = [];
const nestedRun: number[] = [];
await runContainer(host.docker, { image, cmd: ['true'] }); // warm both paths once
await runContainer(nested.docker, { image, cmd: ['true'] });
for (let i = 0; i < RUNS; i++) {
  hostRun.push(await timeIt(() => runContainer(host.docker, { image, cmd: ['echo', 'hi'] })));
  nestedRun.push(await timeIt(() => runContainer(nested.docker, { image, cmd: ['echo', 'hi'] })));
}
await pool.release(nested);
log(`run p50 host ${percentile(hostRun, 50)} ms, nested ${percentile(nestedRun, 50)} ms`);

// A fresh 100 MB image, made by this bench, into fresh nested engines.
const big = `nestor-bench/blob-${Date.now()}:latest`;
const context = await tarOf([{ name: 'Dockerfile', content: `FROM ${image}\nRUN head -c 104857600 /dev/urandom > /blob\n` }]);
await consumeProgress('build', await host.docker.buildImage(Readable.from(context) as never, { t: big, labels: nestorLabels('image') }));
const publishMs = await timeIt(() => supply.preload([big]));
log(`100 MB image published to the shared cache once in ${Math.round(publishMs)} ms`);
const viaMirror: number[] = [];
for (let i = 0; i < RUNS; i++) {
  while (pool.available < 1) await new Promise((r) => setTimeout(r, 20));
  const e = await pool.acquire();
  viaMirror.push(await timeIt(() => pullInto(e, big)));
  await pool.release(e);
}
log(`100 MB via the shared cache p50 ${percentile(viaMirror, 50)} ms`);

// The same image by sharing the host's extracted layers read-only: the cost is what it adds to
// a fresh engine's start, measured as paired differences against an engine started without it.
const sharedExtra: number[] = [];
const sharedReady: number[] = [];
const plainReady: number[] = [];
for (let i = 0; i < RUNS; i++) {
  // Layers are shared only with engines outside a user namespace (trusted dind-caps here).
  const plain = await provision({ ...engineOpts, isolation: 'dind-caps' });
  const seeded = await provision({ ...engineOpts, isolation: 'dind-caps', images: [big] });
  if (seeded.sharedImages.length !== 1) throw new Error('this host cannot share layers; the shared-layer figures would be meaningless');
  if (i === 0) {
    const check = await runContainer(seeded.docker, { image: big, cmd: ['sh', '-c', 'wc -c < /blob'] });
    if (check.stdout.trim() !== '104857600') throw new Error(`shared image is not usable: ${check.stdout}${check.stderr}`);
  }
  plainReady.push(plain.readyMs);
  sharedReady.push(seeded.readyMs);
  sharedExtra.push(Math.max(0, seeded.readyMs - plain.readyMs));
  await Promise.all([plain.destroy(), seeded.destroy()]);
}
log(`100 MB by shared layers: +${percentile(sharedExtra, 50)} ms on engine start (p50)`);
const saveLoad: number[] = [];
for (let i = 0; i < BASELINE_RUNS; i++) {
  while (pool.available < 1) await new Promise((r) => setTimeout(r, 20));
  const e = await pool.acquire();
  saveLoad.push(
    await timeIt(async () => {
      const saved = (await host.docker.getImage(big).get()) as NodeJS.ReadableStream;
      const loaded = (await e.docker.loadImage(saved as never)) as NodeJS.ReadableStream;
      await pipeline(loaded, async function* (src) {
        for await (const _ of src) yield* [];
      });
    }),
  );
  await pool.release(e);
}
log(`100 MB by save | load p50 ${percentile(saveLoad, 50)} ms`);
await pool.close();
await supply.close();
await host.docker.getImage(big).remove({ force: true }).catch(() => undefined);

report('engine', {
  runs: RUNS,
  cold_p50_ms: percentile(cold, 50),
  cold_p95_ms: percentile(cold, 95),
  warm_acquire_p50_ms: percentile(warm, 50),
  warm_acquire_p95_ms: percentile(warm, 95),
  nested_run_p50_ms: percentile(nestedRun, 50),
  nested_run_p95_ms: percentile(nestedRun, 95),
  host_run_p50_ms: percentile(hostRun, 50),
  host_run_p95_ms: percentile(hostRun, 95),
  nested_over_host: Math.round((percentile(nestedRun, 50) / percentile(hostRun, 50)) * 100) / 100,
  image_100mb_p50_ms: percentile(sharedExtra, 50),
  image_100mb_p95_ms: percentile(sharedExtra, 95),
  image_100mb_path: 'host layers shared read-only at engine start (time added to a fresh engine start)',
  image_100mb_shared_engine_ready_p50_ms: percentile(sharedReady, 50),
  image_100mb_plain_engine_ready_p50_ms: percentile(plainReady, 50),
  image_100mb_registry_pull_p50_ms: percentile(viaMirror, 50),
  image_100mb_registry_pull_p95_ms: percentile(viaMirror, 95),
  image_100mb_first_publish_ms: Math.round(publishMs),
  baseline_save_load_100mb_p50_ms: percentile(saveLoad, 50),
  baseline_save_load_100mb_p95_ms: percentile(saveLoad, 95),
  baseline_save_load_runs: BASELINE_RUNS,
  isolation: 'auto',
  default_mode: 'rootless',
  default_cold_p50_ms: percentile(defaultCold, 50),
  default_cold_p95_ms: percentile(defaultCold, 95),
  bare_rootless_floor_p50_ms: percentile(floor, 50),
  default_over_floor: Math.round((percentile(defaultCold, 50) / percentile(floor, 50)) * 100) / 100,
  default_over_floor_target: 1.2,
  dind_caps_cold_p50_ms: percentile(capsCold, 50),
  shared_layers_isolation: 'dind-caps',
});

/**
 * A bare rootless DinD container: the same image and container flags as the default engine,
 * dockerd-rootless with its unix socket only (no certificates, no TLS, no network of its own),
 * from `docker run` until `docker version` answers inside it.
 */
function bareRootlessReadyMs(image: string): number {
  const flags = ['--cap-drop', 'ALL', ...['SETUID', 'SETGID', 'SYS_ADMIN', 'DAC_OVERRIDE', 'FOWNER', 'CHOWN'].flatMap((c) => ['--cap-add', c]), '--device', '/dev/net/tun', '--security-opt', 'seccomp=unconfined', '--security-opt', 'apparmor=unconfined', '--security-opt', 'systempaths=unconfined', '--tmpfs', '/var/lib/docker:exec'];
  const entry = 'chmod 0666 /dev/net/tun; mkdir -p /run/user/1000; chown 1000:1000 /run/user/1000 /var/lib/docker; exec setpriv --reuid=1000 --regid=1000 --init-groups --inh-caps=-all --bounding-set=-all,+setuid,+setgid,+sys_admin,+dac_override env HOME=/home/rootless XDG_RUNTIME_DIR=/run/user/1000 /usr/share/docker.io/contrib/dockerd-rootless.sh --data-root=/var/lib/docker';
  const t0 = performance.now();
  const id = execFileSync('docker', ['run', '-d', '--rm', '--label', 'dev.nestor.bench=rootless-floor', ...flags, '--entrypoint', 'sh', image, '-c', entry], { encoding: 'utf8' }).trim();
  try {
    for (;;) {
      try {
        execFileSync('docker', ['exec', '-u', '1000', '-e', 'DOCKER_HOST=unix:///run/user/1000/docker.sock', id, 'docker', 'version', '--format', '{{.Server.Version}}'], { stdio: 'ignore' });
        return performance.now() - t0;
      } catch {
        if (performance.now() - t0 > 30_000) throw new Error('the bare rootless engine did not answer within 30 s');
      }
    }
  } finally {
    execFileSync('docker', ['rm', '-f', id], { stdio: 'ignore' });
  }
}
