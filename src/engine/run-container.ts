import type Docker from 'dockerode';
import { demuxLogBuffer } from './container-logs.ts';
import { nestorLabels } from './labels.ts';

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface RunSpec {
  image: string;
  cmd: string[];
  name?: string;
  env?: string[];
  binds?: string[];
  network?: string;
  aliases?: string[];
  privileged?: boolean;
  labels?: Record<string, string>;
  memoryMb?: number;
  timeoutMs?: number;
}

/**
 * Runs a container to completion and returns what it printed. The container is labelled,
 * limited, and always removed, also when it times out or the wait fails.
 */
export async function runContainer(docker: Docker, spec: RunSpec): Promise<RunResult> {
  const started = performance.now();
  const container = await docker.createContainer({
    ...(spec.name ? { name: spec.name } : {}),
    Image: spec.image,
    Cmd: spec.cmd,
    Env: spec.env ?? [],
    Labels: nestorLabels('probe', spec.labels),
    HostConfig: {
      Binds: spec.binds ?? [],
      Privileged: spec.privileged ?? false,
      Memory: (spec.memoryMb ?? 256) * 1024 * 1024,
      PidsLimit: 512,
      ...(spec.network ? { NetworkMode: spec.network } : {}),
    },
    ...(spec.network && spec.aliases ? { NetworkingConfig: { EndpointsConfig: { [spec.network]: { Aliases: spec.aliases } } } } : {}),
  });
  try {
    await container.start();
    const timeoutMs = spec.timeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    const result = (await Promise.race([
      container.wait(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error(`container did not finish within ${timeoutMs} ms`)), timeoutMs);
      }),
    ]).finally(() => clearTimeout(timer))) as { StatusCode: number };
    const logs = demuxLogBuffer(Buffer.from((await container.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer));
    return { exitCode: result.StatusCode, stdout: logs.stdout, stderr: logs.stderr, durationMs: performance.now() - started };
  } finally {
    await container.remove({ force: true, v: true }).catch(() => undefined);
  }
}

/** Starts a long-running container (a server for a network check); the caller removes it. */
export async function startContainer(docker: Docker, spec: RunSpec): Promise<Docker.Container> {
  const container = await docker.createContainer({
    ...(spec.name ? { name: spec.name } : {}),
    Image: spec.image,
    Cmd: spec.cmd,
    Labels: nestorLabels('probe', spec.labels),
    HostConfig: { Memory: (spec.memoryMb ?? 128) * 1024 * 1024, PidsLimit: 128, ...(spec.network ? { NetworkMode: spec.network } : {}) },
    ...(spec.network && spec.aliases ? { NetworkingConfig: { EndpointsConfig: { [spec.network]: { Aliases: spec.aliases } } } } : {}),
  });
  await container.start();
  return container;
}
