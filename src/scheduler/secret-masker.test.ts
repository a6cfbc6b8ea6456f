import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SecretMasker } from './secret-masker.ts';

test('secrets are masked in every line, including inside longer words', () => {
  assert.equal(new SecretMasker(['hunter22']).mask('pw=hunter22;again hunter22'), 'pw=********;again ********');
});

test('a secret that is a Docker config.json masks its credentials alone too', () => {
  const auth = Buffer.from('builder:pa55-w0rd').toString('base64');
  const masker = new SecretMasker([JSON.stringify({ auths: { 'reg.example.com': { auth } } })]);
  assert.equal(masker.mask(`auth=${auth} password=pa55-w0rd`), 'auth=******** password=********');
});
