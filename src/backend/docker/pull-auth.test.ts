import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RegistryAuth } from '../backend.ts';
import { credentialFor, PullUnauthorizedError, refusedForCredentials } from './pull-auth.ts';

const given: RegistryAuth = { name: 'dockerconfig', from: 'secret dockerconfig', given: true, credentials: [{ registry: 'reg.example.com:5000', username: 'u', secret: 'pw-1' }, { registry: 'index.docker.io', username: 'hub', secret: 'pw-2' }] };

test('each image is pulled with the entry for its registry; Docker Hub answers to all its names', () => {
  assert.deepEqual(credentialFor('reg.example.com:5000/team/a:1', [given]), { from: 'secret dockerconfig', authconfig: { username: 'u', password: 'pw-1', serveraddress: 'reg.example.com:5000' } });
  assert.equal(credentialFor('team/b:2', [given])?.authconfig.serveraddress, 'https://index.docker.io/v1/');
  assert.equal(credentialFor('other.example.com/a:1', [given]), undefined);
  assert.equal(credentialFor('reg.example.com/a:1', [given]), undefined, 'another port is another registry');
});

test('a refusal is told from other failures; Docker Hub\'s "denied" only counts when credentials were sent', () => {
  assert.ok(refusedForCredentials('Head "http://r:5000/v2/a/manifests/1": no basic auth credentials', false));
  assert.ok(refusedForCredentials('unauthorized: authentication required', true));
  assert.ok(!refusedForCredentials('pull access denied for x, repository does not exist or may require \'docker login\'', false));
  assert.ok(refusedForCredentials('denied: requested access to the resource is denied', true));
  assert.ok(!refusedForCredentials('dial tcp: lookup registry-1.docker.io: no such host', true));
});

test('the error names the image, the registry and the credentials used, or why there were none, never their values', () => {
  const used = new PullUnauthorizedError('reg.example.com:5000/team/a:1', [given], 'secret dockerconfig', '(HTTP code 500) server error - unauthorized: authentication required ');
  assert.equal(used.code, 'NESTOR_IMAGE_PULL_UNAUTHORIZED');
  assert.match(used.message, /^Image reg\.example\.com:5000\/team\/a:1 cannot be pulled from reg\.example\.com:5000: the registry refused the credentials from the secret dockerconfig \(unauthorized: authentication required\)$/);
  assert.doesNotMatch(`${used.message} ${used.hint}`, /pw-1/);
  assert.match(new PullUnauthorizedError('other.example.com/a:1', [given], undefined, 'no basic auth credentials').message, /none of those given is for other\.example\.com \(secret dockerconfig: reg\.example\.com:5000, index\.docker\.io\)/);
  const missing = new PullUnauthorizedError('r.example.com/a:1', [{ name: 'DOCKER_AUTH_CONFIG', from: 'secret or variable DOCKER_AUTH_CONFIG', given: false, credentials: [] }], undefined, 'x');
  assert.match(missing.message, /secret or variable DOCKER_AUTH_CONFIG that would hold them was not given/);
  assert.match(missing.hint, /Give the run DOCKER_AUTH_CONFIG, .*--secret DOCKER_AUTH_CONFIG /);
  assert.match(new PullUnauthorizedError('r.example.com/a:1', [], undefined, 'x').hint, /image_pull_secrets/);
});
