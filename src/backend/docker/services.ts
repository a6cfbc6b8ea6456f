import type Docker from 'dockerode';
import { errorMessage } from '../../errors.ts';
import { nestorLabels } from '../../engine/labels.ts';
import { sleep } from '../../sleep.ts';
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
 * Starts a service and resolves once it is ready: its own health check passes (`readyCommand`,
 * untilCommandPasses), or else every declared port accepts a TCP connection
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
  if (svc.readyCommand !== undefined) {
    await untilCommandPasses(container, svc, opts.readyWithinMs, ended);
    return started;
  }
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

/**
 * Runs the service's own health check inside it (`docker exec`, as Docker's HEALTHCHECK
 * CMD-SHELL would) every 250 ms until it exits 0: ready as soon as it is, rather than after
 * Docker's health interval. Fails when the service exits first or the time is up, with the
 * check's last output.
 */
async function untilCommandPasses(container: Docker.Container, svc: ServiceSpec, withinMs: number, ended: Promise<void>): Promise<void> {
  const deadline = Date.now() + withinMs;
  let exited = false;
  void ended.then(() => (exited = true));
  let last = '';
  while (Date.now() < deadline) {
    if (exited) throw new ServiceNotReadyError(svc.name, `it exited before its health check passed${last ? ` (last check: ${last})` : ''}`);
    const check = await runOnce(container, svc.readyCommand!).catch((err: unknown) => ({ code: -1, output: errorMessage(err) }));
    if (check.code === 0) return;
    last = check.output.trim().split('\n').slice(-3).join(' / ') || `exit code ${check.code}`;
    await sleep(250);
  }
  throw new ServiceNotReadyError(svc.name, `its health check \`${svc.readyCommand}\` did not pass within ${Math.round(withinMs / 1000)} s (last: ${last})`);
}

async function runOnce(container: Docker.Container, command: string): Promise<{ code: number; output: string }> {
  const exec = await container.exec({ Cmd: ['/bin/sh', '-c', command], AttachStdout: true, AttachStderr: true });
  const stream = (await exec.start({ hijack: true, stdin: false })) as unknown as NodeJS.ReadableStream;
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  await new Promise<void>((resolve) => {
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', resolve);
  });
  const info = await exec.inspect();
  // The attach stream is multiplexed: 8-byte headers before each frame; only the text is wanted.
  return { code: info.ExitCode ?? -1, output: Buffer.concat(chunks).toString('latin1').replace(/[^\x20-\x7e\n]/g, '') };
}
