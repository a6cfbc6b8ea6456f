import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, ping, EngineUnreachableError } from '../src/engine/engine-client.ts';
import { endpointFromEnv } from '../src/engine/docker-host.ts';
import { hostEngine } from './helpers.ts';

test('the host engine answers a ping within its deadline', async () => {
  const host = await hostEngine();
  await ping(host, 2000);
  assert.ok((await host.docker.version()).ApiVersion);
});

test('a missing socket is an error naming the address and how to start the daemon', async () => {
  const client = connect(endpointFromEnv({ DOCKER_HOST: 'unix:///tmp/nestor-no-such.sock' }));
  await assert.rejects(ping(client, 1000), (err: unknown) => {
    assert.ok(err instanceof EngineUnreachableError);
    assert.equal(err.address, 'unix:///tmp/nestor-no-such.sock');
    assert.match(err.message, /Cannot connect to the Docker daemon at unix:\/\/\/tmp\/nestor-no-such.sock/);
    assert.match(err.hint, /dockerd/);
    return true;
  });
});

test('a TCP address where nothing listens fails fast with a hint', async () => {
  const client = connect(endpointFromEnv({ DOCKER_HOST: 'tcp://127.0.0.1:1' }));
  await assert.rejects(ping(client, 1000), (err: unknown) => {
    assert.ok(err instanceof EngineUnreachableError);
    assert.match(err.hint, /Nothing listens there/);
    return true;
  });
});
