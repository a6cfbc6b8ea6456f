import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { api, STORES, testServer } from './harness.ts';
import { freePort } from './processes.ts';
import { deliver, githubPush, TestRepo } from './repo-fixture.ts';

/**
 * An ssh:// repository is read with its own deploy key, never the server's: against a real
 * sshd on loopback, the key that sshd authorises fetches the pushed commit into a pipeline, a
 * repository without a key is refused when added, and one with a key sshd does not know fails
 * its fetch, saying so. Both stores.
 */
function keyPair(dir: string, name: string): { privateKey: string; publicKey: string } {
  const file = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', file]);
  return { privateKey: readFileSync(file, 'utf8'), publicKey: readFileSync(`${file}.pub`, 'utf8') };
}

async function startSshd(authorized: string): Promise<{ port: number; stop: () => void }> {
  const dir = mkdtempSync(join(tmpdir(), 'nestor-sshd-'));
  // sshd's privilege separation directory, which its package makes at boot, not at install.
  mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'host')]);
  writeFileSync(join(dir, 'authorized_keys'), authorized, { mode: 0o600 });
  const port = await freePort();
  writeFileSync(join(dir, 'sshd_config'), [`Port ${port}`, 'ListenAddress 127.0.0.1', `HostKey ${join(dir, 'host')}`, `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`, `PidFile ${join(dir, 'pid')}`, 'StrictModes no', 'UsePAM no', 'PasswordAuthentication no', 'KbdInteractiveAuthentication no', 'PermitRootLogin prohibit-password', 'LogLevel ERROR'].join('\n'));
  const child = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', join(dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  for (let i = 0; i < 100; i++) {
    const up = await new Promise<boolean>((resolve) => {
      const probe = spawn('bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${port}`]);
      probe.on('exit', (code) => resolve(code === 0));
    });
    if (up) return { port, stop: () => child.kill() };
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill();
  throw new Error(`sshd did not start: ${err}`);
}

for (const kind of STORES) {
  test(`[${kind}] an ssh:// repository is fetched with its own deploy key only; none given is refused, a wrong one fails its fetch`, { timeout: 60_000 }, async () => {
    const keys = mkdtempSync(join(tmpdir(), 'nestor-keys-'));
    const deploy = keyPair(keys, 'deploy');
    const stranger = keyPair(keys, 'stranger');
    const sshd = await startSshd(deploy.publicKey);
    const server = await testServer(kind);
    after(async () => {
      await server.close();
      sshd.stop();
    });
    const repo = new TestRepo();
    const url = `ssh://root@127.0.0.1:${sshd.port}${repo.bare}`;

    const refused = await api<{ code: string; hint: string }>(server.url, 'POST', '/api/repos', { url, name: 'team/app' });
    assert.deepEqual([refused.status, refused.body.code], [422, 'NESTOR_REPO_DEPLOY_KEY_NEEDED']);
    assert.match(refused.body.hint, /--ssh-key/);
    const added = await api<{ deploy_key: boolean; webhook: { path: string; secret: string } }>(server.url, 'POST', '/api/repos', { url, name: 'team/app', ssh_key: deploy.privateKey });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    assert.equal(added.body.deploy_key, true);
    assert.equal(JSON.stringify(added.body).includes('PRIVATE KEY'), false, 'the key is never shown');

    const c = repo.commit({ '.nestor.yml': 'steps:\n  - name: s\n    image: nestor/base:busybox\n    commands: [echo hi]\n' }, 'Over ssh');
    const made = await deliver(`${server.url}${added.body.webhook.path}`, githubPush(added.body.webhook.secret, { ref: 'refs/heads/main', ...c, message: 'Over ssh' }));
    assert.equal(made.status, 201, JSON.stringify(made.body));

    const wrong = await api<{ webhook: { path: string; secret: string } }>(server.url, 'POST', '/api/repos', { url, name: 'team/other', ssh_key: stranger.privateKey });
    const failed = await deliver(`${server.url}${wrong.body.webhook.path}`, githubPush(wrong.body.webhook.secret, { ref: 'refs/heads/main', ...c, message: 'Over ssh', repo: 'team/other' }));
    assert.equal(failed.status, 502, JSON.stringify(failed.body));
    assert.match(String(failed.body.detail), /Permission denied|publickey/);
  });
}
