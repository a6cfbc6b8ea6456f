import { freePort } from '../test/server/processes.ts';
// What test/security/no-stall.test.ts and bench/no-stall.ts share: a `nestor server` in a
// process of its own (so the client's timing does not run on the server's event loop), a
// pipeline at the size limit, and /health timed while something else goes on.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_PIPELINE_LIMITS } from '../src/pipeline/limits.ts';

export const ADMIN = 'nst_adm_nostall-admin-token-0123456789';
const NESTOR = new URL('../bin/nestor', import.meta.url).pathname;

export interface ServerProcess {
  url: string;
  output(): string;
  stop(): Promise<void>;
}

/** `nestor server --no-gitops` (no Docker engine, nothing created in one) on a free port. */
export async function startServerProcess(extraArgs: string[] = []): Promise<ServerProcess> {
  const port = await freePort();
  const dataDir = mkdtempSync(join(tmpdir(), 'nestor-nostall-'));
  const child = spawn(NESTOR, ['server', '--no-gitops', '--host', '127.0.0.1', '--port', String(port), '--data-dir', dataDir, '--log-level', 'warn', ...extraArgs], {
    env: { ...process.env, NESTOR_ADMIN_TOKEN: ADMIN, NESTOR_REGISTRATION_TOKEN: 'nst_reg_nostall-registration-token-01' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dataDir, { recursive: true, force: true });
  };
  for (let i = 0; ; i++) {
    if (await fetch(`${url}/health`).then((r) => r.ok, () => false)) break;
    if (i > 200 || child.exitCode !== null) {
      await stop();
      throw new Error(`the server did not come up:\n${out}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, output: () => out, stop };
}


/**
 * A valid `.nestor.yml` of exactly `bytes` bytes, with as many steps as the limit allows
 * short of it: the largest pipeline the server accepts.
 */
export function sizeLimitPipeline(bytes = DEFAULT_PIPELINE_LIMITS.bytes, steps = DEFAULT_PIPELINE_LIMITS.steps - 100): string {
  const head = 'steps:\n';
  const line = (i: number, pad: number) => `  s${i}: {image: busybox, commands: ["echo ${i} ${'x'.repeat(pad)}"]}\n`;
  const pad = Math.floor((bytes - head.length - 64) / steps) - line(steps, 0).length;
  let text = head + Array.from({ length: steps }, (_, i) => line(i, pad)).join('');
  text += `#${'-'.repeat(bytes - Buffer.byteLength(text) - 2)}\n`;
  return text;
}

export function submit(url: string, body: unknown): Promise<{ status: number; body: Record<string, unknown>; ms: number }> {
  const t = performance.now();
  return fetch(`${url}/api/jobs`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) }).then(async (r) => ({
    status: r.status,
    body: (await r.json()) as Record<string, unknown>,
    ms: performance.now() - t,
  }));
}

/** /health asked one request at a time, every `gapMs`, until `until` settles (or `count` answers at rest). */
export async function timeHealth(url: string, opts: { until?: Promise<unknown>; count?: number; gapMs?: number }): Promise<number[]> {
  const times: number[] = [];
  let done = opts.until === undefined;
  void opts.until?.finally(() => (done = true)).catch(() => {});
  while (opts.until ? !done : times.length < (opts.count ?? 200)) {
    const t = performance.now();
    const r = await fetch(`${url}/health`);
    await r.arrayBuffer();
    if (!r.ok) throw new Error(`/health answered ${r.status}`);
    times.push(performance.now() - t);
    await new Promise((resolve) => setTimeout(resolve, opts.gapMs ?? 5));
  }
  return times;
}
