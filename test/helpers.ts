import { execFile } from 'node:child_process';
import { hostname } from 'node:os';
import { promisify } from 'node:util';
import { connect, ping, type EngineClient } from '../src/engine/engine-client.ts';
import { endpointFromEnv } from '../src/engine/docker-host.ts';
import { LABEL_ENGINE, LABEL_MANAGED } from '../src/engine/labels.ts';
import { LABEL_OWNER_HOST, LABEL_OWNER_PID } from '../src/engine/ownership.ts';

const run = promisify(execFile);
export const ROOT = new URL('..', import.meta.url).pathname;
export const NESTOR = `${ROOT}bin/nestor`;

/**
 * The host engine, or a loud failure. The suite never skips for want of Docker: in CI that
 * would hide exactly the failures it exists to find.
 */
export async function hostEngine(): Promise<EngineClient> {
  const host = connect(endpointFromEnv(process.env));
  try {
    await ping(host, 5000);
  } catch (err) {
    throw new Error(`The tests need a running Docker engine (${(err as Error).message}). Run \`bash scripts/test.sh\`, which starts one.`);
  }
  return host;
}

/** Everything still on the host engine that carries a given engine's label. */
export async function objectsOf(host: EngineClient, engine: string): Promise<number> {
  const filters = JSON.stringify({ label: [`${LABEL_MANAGED}=true`, `${LABEL_ENGINE}=${engine}`] });
  const [c, n, v] = await Promise.all([
    host.docker.listContainers({ all: true, filters }),
    host.docker.listNetworks({ filters }),
    host.docker.listVolumes({ filters }),
  ]);
  return c.length + n.length + (v.Volumes?.length ?? 0);
}

/**
 * This test process and the Nestor processes it started. The suite runs test files side by side,
 * so "nothing is left" can only be said of what this file's processes made: their pid is on the
 * labels of everything they make.
 */
const ownPids = new Set<number>([process.pid]);

/** Counts a started process's objects as this test's (every spawn of a Nestor process calls it). */
export function ownProcess(pid: number | undefined): void {
  if (pid) ownPids.add(pid);
}

/** Whether an object's labels say this test process, or one it started, made it. */
export function madeByThisTest(labels: Record<string, string> | undefined): boolean {
  return labels?.[LABEL_OWNER_HOST] === hostname() && ownPids.has(Number(labels[LABEL_OWNER_PID]));
}

/** The nested engines (their sidecar containers) on the host engine right now that this test's processes made, by name. */
export async function engineNames(host: EngineClient): Promise<string[]> {
  const filters = JSON.stringify({ label: [`${LABEL_MANAGED}=true`, 'dev.nestor.role=engine'] });
  return (await host.docker.listContainers({ all: true, filters })).filter((c) => madeByThisTest(c.Labels)).map((c) => c.Names[0]!);
}

export async function nestor(args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const running = run(NESTOR, args, { env, maxBuffer: 16 * 1024 * 1024 });
    ownProcess(running.child.pid);
    const { stdout, stderr } = await running;
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : 1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}
