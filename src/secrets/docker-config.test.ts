import { test } from 'node:test';
import assert from 'node:assert/strict';
import { credentialStrings, DockerConfigInvalidError, parseDockerConfig } from './docker-config.ts';

const auth = Buffer.from('builder:s3cret-pw').toString('base64');

test('the strings that give a config\'s credentials away: auth as written, user:password, password', () => {
  const text = JSON.stringify({ auths: { 'reg.example.com': { auth }, other: { username: 'u', password: 'pw-two' } } });
  assert.deepEqual(credentialStrings(text).sort(), [auth, 'builder:s3cret-pw', 'pw-two', 's3cret-pw', 'u:pw-two'].sort());
  assert.deepEqual(credentialStrings('plain secret'), []);
  assert.deepEqual(credentialStrings('{"auths": not json'), []);
});

test('an unusable config says why without quoting it', () => {
  const err = (() => {
    try {
      parseDockerConfig(JSON.stringify({ auths: { r: { auth: Buffer.from('no-colon-s3cret').toString('base64') } } }));
    } catch (e) {
      return e;
    }
  })();
  assert.ok(err instanceof DockerConfigInvalidError);
  assert.match(err.why, /"auth" of r is not base64/);
  assert.doesNotMatch(err.message, /s3cret/);
});
