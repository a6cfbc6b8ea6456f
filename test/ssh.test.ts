import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, ping } from '../src/engine/engine-client.ts';
import { hostEngine } from './helpers.ts';
import { freePort } from './server/processes.ts';

// A real OpenSSH server on loopback in front of this machine's engine: the ssh:// path users
// take to reach a remote Docker host (`docker system dial-stdio` on the far side).
await hostEngine();
const dir = mkdtempSync(join(tmpdir(), 'nestor-ssh-'));
let sshd: ChildProcess;
let port = 0;

before(async () => {
  port = await freePort();
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host_key')]);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'client_key')]);
  writeFileSync(join(dir, 'authorized_keys'), readFileSync(join(dir, 'client_key.pub')), { mode: 0o600 });
  mkdirSync('/run/sshd', { recursive: true });
  writeFileSync(
    join(dir, 'sshd_config'),
    [`Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${dir}/host_key`, `AuthorizedKeysFile ${dir}/authorized_keys`, 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'UsePAM no', 'StrictModes no', 'PermitRootLogin prohibit-password', `PidFile ${dir}/sshd.pid`, ''].join('\n'),
  );
  sshd = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
  for (let i = 0; i < 50; i++) {
    const up = await fetch(`http://127.0.0.1:${port}`).then(() => true, (e: { cause?: { code?: string } }) => e.cause?.code !== 'ECONNREFUSED');
    if (up) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('sshd did not start');
});
after(() => sshd?.kill());

test('ssh://: the engine answers through an SSH server, with the key from NESTOR_SSH_KEY', async () => {
  process.env.NESTOR_SSH_KEY = join(dir, 'client_key');
  const client = connect({ kind: 'ssh', host: '127.0.0.1', port, username: 'root' });
  assert.equal(client.address, `ssh://root@127.0.0.1:${port}`);
  await ping(client, 15_000);
  const version = await client.docker.version();
  assert.match(version.ApiVersion, /^1\.\d+$/);
});

test('ssh:// to a host that refuses the key is an error naming the address and what to check', async () => {
  process.env.NESTOR_SSH_KEY = join(dir, 'host_key'); // not authorised
  const client = connect({ kind: 'ssh', host: '127.0.0.1', port, username: 'root' });
  await assert.rejects(ping(client, 10_000), (err: Error & { hint?: string }) => {
    assert.match(err.message, new RegExp(`ssh://root@127.0.0.1:${port}`));
    assert.match(err.hint ?? '', /ssh HOST docker version/);
    return true;
  });
});
