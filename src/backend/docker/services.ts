import { nestorLabels } from '../../engine/labels.ts';
import { BASE_ALIAS } from '../../engine/images/image-names.ts';
import type { ServiceSpec, ServiceStartOptions } from '../backend.ts';
import { ServiceNotReadyError } from '../errors.ts';
import { attachOutput } from './container-output.ts';
import { containerOptions } from './container-spec.ts';
import type { JobContext } from './job-context.ts';
import { DockerContainer, type ContainerJob } from './running-container.ts';

/** The image the readiness probe runs in: the small base image every engine can get. */
export const PROBE_IMAGE = BASE_ALIAS;

/** The TCP ports an image declares (EXPOSE): what GitLab's runner waits for, too. */
async function exposedPorts(ctx: JobContext, image: string): Promise<number[]> {
  const info = await ctx.docker.getImage(image).inspect().catch(() => undefined);
  return Object.keys(info?.Config?.ExposedPorts ?? {})
    .filter((p) => p.endsWith('/tcp'))
    .map((p) => Number(p.split('/')[0]))
    .filter((p) => Number.isInteger(p) && p > 0);
}

/**
 * Starts a service and resolves once it is ready: every declared port accepts a TCP connection
 * (tried every 100 ms from inside the job network, never a fixed sleep), or, without ports, once
 * it runs. A service that exits first fails at once.
 */
export async function startService(ctx: JobContext, job: ContainerJob, svc: ServiceSpec, opts: ServiceStartOptions): Promise<DockerContainer> {
  const container = await ctx.docker.createContainer({
    ...containerOptions(ctx, svc, 'service', [svc.name, ...svc.aliases]),
    name: `${ctx.id}-${svc.name}`,
  });
  const { ended } = await attachOutput(container, opts.sink);
  await container.start();
  const started = new DockerContainer(svc.name, container, job, opts.signal, { ended });
  const ports = svc.ports.length ? svc.ports : await exposedPorts(ctx, svc.image);
  if (ports.length === 0) return started;
  const deadlineMs = opts.readyWithinMs;

  const exited = container.wait().then((r: { StatusCode: number }) => `it exited with code ${r.StatusCode} before accepting connections`);
  const seconds = Math.ceil(deadlineMs / 1000);
  const address = ctx.network === 'host' ? '127.0.0.1' : svc.name;
  const checks = ports.map((p) => `until nc -w 1 ${address} ${p} -e true 2>/dev/null; do [ "$(date +%s)" -ge "$end" ] && { echo "port ${p} closed after ${seconds} s"; exit 1; }; sleep 0.1; done`);
  const probe = await ctx.docker.createContainer({
    Image: PROBE_IMAGE,
    Entrypoint: ['/bin/sh', '-c'],
    Cmd: [`end=$(( $(date +%s) + ${seconds} ))\n${checks.join('\n')}`],
    Labels: nestorLabels('probe', ctx.labels),
    HostConfig: { NetworkMode: ctx.network, AutoRemove: false, Memory: 64 * 1024 * 1024 },
  });
  try {
    await probe.start();
    const result = await Promise.race([probe.wait().then((r: { StatusCode: number }) => r), exited]);
    if (typeof result === 'string') {
      await ended;
      throw new ServiceNotReadyError(svc.name, result);
    }
    if (result.StatusCode !== 0) {
      const why = String(await probe.logs({ stdout: true, stderr: true })).replace(/[^\x20-\x7e\n]/g, '').trim();
      throw new ServiceNotReadyError(svc.name, why || `probe exited with ${result.StatusCode}`);
    }
    return started;
  } finally {
    await probe.remove({ force: true }).catch(() => undefined);
  }
}
