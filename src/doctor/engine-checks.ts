import { isolationModes } from './isolation-checks.ts';
import { ping } from '../engine/engine-client.ts';
import { selfTest, type CheckOutcome } from '../engine/self-test.ts';
import { imageExists } from '../engine/images/local-images.ts';
import { provision, type ProvisionOptions } from '../engine/nested/provision.ts';
import { ImageSupply } from '../engine/images/supply.ts';
import { runContainer } from '../engine/run-container.ts';
import { nestorLabels } from '../engine/labels.ts';
import { engineImages } from '../config.ts';
import { errorMessage } from '../errors.ts';
import { fail, pass, warn, type Check, type DoctorContext, type Finding } from './check.ts';
import { diagnose } from './diagnose.ts';

const MIN_API = '1.40';

export const daemonReachable: Check = {
  id: 'daemon',
  title: 'Docker daemon reachable',
  needsDaemon: false,
  async run({ host }) {
    await ping(host, 3000);
    return pass(`answers at ${host.address}`);
  },
};

export const apiVersion: Check = {
  id: 'api-version',
  title: 'Engine API version',
  needsDaemon: true,
  async run({ host }) {
    const v = await host.docker.version();
    const detail = `Docker ${v.Version}, API ${v.ApiVersion} (min ${v.MinAPIVersion ?? '?'}), ${v.Os}/${v.Arch}`;
    return compareVersions(v.ApiVersion, MIN_API) < 0 ? fail(`${detail}: Nestor needs API ${MIN_API} or newer`, { fix: 'Upgrade Docker to 19.03 or newer.' }) : pass(detail);
  },
};

export const cgroupSetup: Check = {
  id: 'cgroup',
  title: 'cgroup version and driver',
  needsDaemon: true,
  async run({ host }) {
    const info = (await host.docker.info()) as { CgroupVersion?: string; CgroupDriver?: string };
    return pass(`cgroup v${info.CgroupVersion ?? '?'}, driver ${info.CgroupDriver ?? '?'}`);
  },
};

export const storageDriver: Check = {
  id: 'storage',
  title: 'Storage driver and d_type',
  needsDaemon: true,
  async run({ host }) {
    const info = await host.docker.info();
    const status = Object.fromEntries((info.DriverStatus ?? []) as [string, string][]);
    const dtype = status['Supports d_type'];
    if (dtype === 'false') return fail(`${info.Driver} on ${status['Backing Filesystem'] ?? '?'} without d_type support`);
    return pass(`${info.Driver} on ${status['Backing Filesystem'] ?? '?'}${dtype ? `, d_type ${dtype}` : ''}`);
  },
};

export const probeImagePresent: Check = {
  id: 'probe-image',
  title: 'Probe image present',
  needsDaemon: true,
  async run({ host, probeImage }) {
    return (await imageExists(host.docker, probeImage))
      ? pass(probeImage)
      : fail(`${probeImage} is not on the engine`, { cause: 'The images were never bootstrapped.', fix: 'Run `nestor images bootstrap`.' });
  },
};

/** run, build, network and volume: the same probes `nestor engine test` runs, on the host engine. */
function workloadChecks(): Check[] {
  let outcomes: Promise<CheckOutcome[]> | undefined;
  const ids = ['run', 'build', 'network', 'volume'] as const;
  const titles = ['Run a container', 'Build an image', 'Network between two containers', 'Volume mounts'];
  return ids.map((id, i) => ({
    id,
    title: titles[i]!,
    needsDaemon: true,
    async run(ctx: DoctorContext): Promise<Finding> {
      outcomes ??= selfTest(ctx.host.docker, ctx.probeImage);
      const o = (await outcomes)[i]!;
      return o.ok ? pass(o.detail) : fail(o.detail);
    },
  }));
}

export const privilegedOrCaps: Check = {
  id: 'privileged',
  title: 'Privileged containers or the capability set',
  needsDaemon: true,
  async run({ host, probeImage }) {
    const attempt = async (hostConfig: Record<string, unknown>) => {
      const c = await host.docker.createContainer({ Image: probeImage, Cmd: ['true'], Labels: nestorLabels('probe'), HostConfig: hostConfig });
      try {
        await c.start();
        return undefined;
      } catch (err) {
        return errorMessage(err);
      } finally {
        await c.remove({ force: true }).catch(() => undefined);
      }
    };
    const privileged = await attempt({ Privileged: true });
    if (!privileged) return pass('--privileged works: nested engines run in dind mode');
    const caps = await attempt({ CapAdd: ['ALL'], CapDrop: ['SYS_RESOURCE'], SecurityOpt: ['seccomp=unconfined', 'apparmor=unconfined'] });
    if (!caps) {
      const d = diagnose(privileged);
      return { ...warn(`--privileged is refused (${privileged.split('\n')[0]?.slice(-120)}); the capability set works, so Nestor uses dind-caps`), ...(d ? { cause: d.cause, fix: d.fix } : {}) };
    }
    return fail(`neither --privileged (${privileged}) nor the capability set (${caps}) can start a container`, {
      fix: 'Use a VM or user-namespace runtime: nestor engine start --isolation sysbox (or kata, runcvm), or socket mode where isolation is not needed.',
    });
  },
};

/** The end-to-end check: a nested engine starts and runs a container. Exported for the provoked-failure test. */
export async function checkNestedEngine(ctx: DoctorContext, overrides: Partial<ProvisionOptions> = {}): Promise<Finding> {
  const supply = await ImageSupply.start(ctx.host);
  let engine;
  try {
    engine = await provision({ host: ctx.host, readyTimeoutMs: 20_000, daemon: supply.daemonOptions(), engineImages: engineImages(ctx.env), ...overrides });
    await supply.preload([ctx.probeImage], engine);
    const r = await runContainer(engine.docker, { image: ctx.probeImage, cmd: ['echo', 'nested-ok'] });
    if (r.exitCode !== 0) return fail(`a container in the nested engine exited ${r.exitCode}: ${r.stderr}`);
    const notes = engine.notices.length ? ` (${engine.notices.join(' ')})` : '';
    return pass(`engine ${engine.name} (${engine.isolation}) ready in ${Math.round(engine.readyMs)} ms and ran a container${notes}`);
  } catch (err) {
    return fail(errorMessage(err));
  } finally {
    await engine?.destroy();
    await supply.close();
  }
}

export const nestedEngine: Check = {
  id: 'nested-engine',
  title: 'Nested engine starts and runs a container',
  needsDaemon: true,
  run: (ctx) => checkNestedEngine(ctx),
};

export function engineChecks(): Check[] {
  return [daemonReachable, apiVersion, cgroupSetup, storageDriver, probeImagePresent, ...workloadChecks(), privilegedOrCaps, isolationModes, nestedEngine];
}

export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d) return Math.sign(d);
  }
  return 0;
}
