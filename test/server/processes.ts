import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { NESTOR, ownProcess } from '../helpers.ts';
import { ADMIN, REGISTRATION, api } from './harness.ts';

/**
 * A port for a server a test starts. Not one the kernel hands out for `listen(0)`: those come
 * from the ephemeral range, where any process's next outgoing connection may take the port
 * before the server binds it (a server failed with EADDRINUSE so). Below that range only
 * listeners take ports, and each is tried on every address before it is handed out, once.
 */
export async function freePort(): Promise<number> {
  const low = ephemeralLow();
  for (;;) {
    const port = 10_000 + Math.floor(Math.random() * Math.max(1, low - 10_000));
    if (handedOut.has(port)) continue;
    if (await bindable(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

const handedOut = new Set<number>();

function ephemeralLow(): number {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    return Number.isInteger(low) && low > 11_000 ? low : 32_768;
  } catch {
    return 32_768;
  }
}

function bindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '0.0.0.0', () => s.close(() => resolve(true)));
  });
}

/** One sealing key for every test server process (32 bytes, hex). */
export const TEST_SECRET_KEY_HEX = '5e'.repeat(32);

export interface Proc {
  child: ChildProcess;
  output: () => string;
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

function start(args: string[], env: NodeJS.ProcessEnv): Proc {
  const child = spawn(NESTOR, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  ownProcess(child.pid);
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr!.on('data', (b: Buffer) => (out += b.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    output: () => out,
    async kill9() {
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 15_000))]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

export async function startServerProcess(port: number, dataDir: string, env: NodeJS.ProcessEnv = {}): Promise<Proc> {
  // Servers sharing one PostgreSQL must share the key that seals secrets, as in production.
  const proc = start(['server', '--port', String(port), '--data-dir', dataDir], { NESTOR_ADMIN_TOKEN: ADMIN, NESTOR_REGISTRATION_TOKEN: REGISTRATION, NESTOR_SECRET_KEY: TEST_SECRET_KEY_HEX, ...env });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    const ok = await fetch(`${url}/health`).then((r) => r.ok, () => false);
    if (ok) return proc;
    if (proc.child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await proc.stop();
  throw new Error(`the server did not come up:\n${proc.output()}`);
}

export async function startRunnerProcess(url: string, name: string, env: NodeJS.ProcessEnv = {}): Promise<Proc> {
  const proc = start(['runner', '--server', url, '--token', REGISTRATION, '--name', name, '--max-jobs', '2', '--warm', '0'], env);
  for (let i = 0; i < 200; i++) {
    const r = await api<{ state: string }>(url, 'GET', `/api/runners/${name}/status`).catch(() => undefined);
    if (r?.status === 200 && r.body.state !== 'offline' && proc.output().includes('registered')) return proc;
    if (proc.child.exitCode !== null) break;
    await new Promise((r2) => setTimeout(r2, 100));
  }
  await proc.stop();
  throw new Error(`runner ${name} did not register:\n${proc.output()}`);
}

export async function waitForJob(url: string, id: string, timeoutMs: number, until: (job: Record<string, unknown>) => boolean = (j) => ['succeeded', 'failed', 'cancelled'].includes(String(j.status))) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await api(url, 'GET', `/api/jobs/${id}`).catch(() => undefined);
    if (r?.status === 200 && until(r.body)) return r.body;
    if (Date.now() > deadline) throw new Error(`job ${id} did not reach the expected state in ${timeoutMs} ms: ${JSON.stringify(r?.body)}`);
    await new Promise((r2) => setTimeout(r2, 100));
  }
}
