import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, ping } from '../src/engine/engine-client.ts';
import { parseDockerHost } from '../src/engine/docker-host.ts';
import { hostEngine } from './helpers.ts';
import { startSshd, type TestSshd } from './sshd.ts';

// A real OpenSSH server on loopback in front of this machine's engine.
await hostEngine();
let sshd: TestSshd;
let port = 0;

before(async () => {
  sshd = await startSshd();
  port = sshd.port;
});
after(() => sshd?.stop());

test('ssh://: the engine answers through an SSH server, with the key from NESTOR_SSH_KEY', async () => {
  const client = connect(parseDockerHost(`ssh://root@127.0.0.1:${port}`, { NESTOR_SSH_KEY: sshd.clientKey }));
  assert.equal(client.address, `ssh://root@127.0.0.1:${port}`);
  await ping(client, 15_000);
  const version = await client.docker.version();
  assert.match(version.ApiVersion, /^1\.\d+$/);
});

test('ssh:// to a host that refuses the key is an error naming the address and what to check', async () => {
  const client = connect(parseDockerHost(`ssh://root@127.0.0.1:${port}`, { NESTOR_SSH_KEY: sshd.foreignKey })); // not authorised
  await assert.rejects(ping(client, 10_000), (err: Error & { hint?: string }) => {
    assert.match(err.message, new RegExp(`ssh://root@127.0.0.1:${port}`));
    assert.match(err.hint ?? '', /ssh HOST docker version/);
    return true;
  });
});
