import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './server/processes.ts';

export interface TestSshd {
  port: number;
  /** A key the server accepts for root. */
  clientKey: string;
  /** A key it does not accept. */
  foreignKey: string;
  stop(): void;
}

/**
 * A real OpenSSH server on loopback, for the ssh:// path users take to a remote Docker host
 * (`docker system dial-stdio` on the far side). `env` is set for every session (SetEnv), which
 * lets a test put a nested engine behind it with DOCKER_HOST.
 */
export async function startSshd(env: Record<string, string> = {}): Promise<TestSshd> {
  const dir = mkdtempSync(join(tmpdir(), 'nestor-ssh-'));
  const port = await freePort();
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'client_key')]);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'client_key.pub')), { mode: 0o600 });
  mkdirSync('/run/sshd', { recursive: true });
  // sshd keeps the first SetEnv line only: every variable goes on one.
  const setEnv = Object.keys(env).length ? [`SetEnv ${Object.entries(env).map(([k, v]) => `${k}=${v}`).join(' ')}`] : [];
  writeFileSync(
    join(dir, 'sshd_config'),
    [`Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${dir}/host_key`, `AuthorizedKeysFile ${dir}/authorized_keys`, 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'UsePAM no', 'StrictModes no', 'PermitRootLogin prohibit-password', 'MaxSessions 100', 'MaxStartups 100', `PidFile ${dir}/sshd.pid`, ...setEnv, ''].join('\n'),
  );
  const sshd: ChildProcess = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
  for (let i = 0; i < 50; i++) {
    const up = await fetch(`http://127.0.0.1:${port}`).then(() => true, (e: { cause?: { code?: string } }) => e.cause?.code !== 'ECONNREFUSED');
    if (up) return { port, clientKey: join(dir, 'client_key'), foreignKey: join(dir, 'host_key'), stop: () => sshd.kill() };
    await new Promise((r) => setTimeout(r, 100));
  }
  sshd.kill();
  throw new Error('sshd did not start');
}
