import { test } from 'node:test';
import assert from 'node:assert/strict';
import { endpointFromEnv, parseDockerHost, describeEndpoint, InvalidDockerHostError } from './docker-host.ts';

const fakeTls = () => ({ ca: 'CA', cert: 'CERT', key: 'KEY' });

test('no DOCKER_HOST means the default Unix socket', () => {
  assert.deepEqual(endpointFromEnv({}), { kind: 'unix', socketPath: '/var/run/docker.sock' });
});

test('unix:// URLs and bare paths are sockets', () => {
  assert.deepEqual(parseDockerHost('unix:///run/user/1000/docker.sock'), { kind: 'unix', socketPath: '/run/user/1000/docker.sock' });
  assert.deepEqual(parseDockerHost('/tmp/d.sock'), { kind: 'unix', socketPath: '/tmp/d.sock' });
});

test('tcp:// without TLS defaults to port 2375', () => {
  assert.deepEqual(parseDockerHost('tcp://10.0.0.5'), { kind: 'tcp', host: '10.0.0.5', port: 2375 });
});

test('DOCKER_TLS_VERIFY turns tcp:// into TLS on 2376 with material from DOCKER_CERT_PATH', () => {
  let dir = '';
  const ep = endpointFromEnv({ DOCKER_HOST: 'tcp://engine.local', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: '/certs' }, (d) => {
    dir = d;
    return fakeTls();
  });
  assert.equal(dir, '/certs');
  assert.deepEqual(ep, { kind: 'tls', host: 'engine.local', port: 2376, tls: fakeTls() });
});

test('DOCKER_TLS_VERIFY=0 leaves TLS off, as the Docker CLI does', () => {
  assert.equal(parseDockerHost('tcp://h:1234', { DOCKER_TLS_VERIFY: '0' }).kind, 'tcp');
});

test('ssh:// keeps user and port', () => {
  assert.deepEqual(parseDockerHost('ssh://deploy@build-1:2222'), { kind: 'ssh', host: 'build-1', port: 2222, username: 'deploy' });
  assert.equal(describeEndpoint(parseDockerHost('ssh://build-1')), 'ssh://build-1:22');
  // The login comes from the environment given (the edge's), never from process.env here.
  assert.deepEqual(parseDockerHost('ssh://build-1', { SSH_AUTH_SOCK: '/run/agent.sock', NESTOR_SSH_KEY: '/keys/id' }), { kind: 'ssh', host: 'build-1', port: 22, login: { agent: '/run/agent.sock', keyFile: '/keys/id' } });
  assert.deepEqual(endpointFromEnv({ DOCKER_HOST: 'ssh://u@h', NESTOR_SSH_KEY: '/k' }), { kind: 'ssh', host: 'h', port: 22, username: 'u', login: { keyFile: '/k' } });
});

test('an unknown scheme is refused with a suggestion', () => {
  assert.throws(() => parseDockerHost('npipe:////./pipe/docker_engine'), (err: unknown) => {
    assert.ok(err instanceof InvalidDockerHostError);
    assert.equal(err.code, 'NESTOR_DOCKER_HOST_INVALID');
    assert.match(err.hint, /unix:\/\/\/var\/run\/docker.sock/);
    return true;
  });
});
