import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SecretMasker } from './secret-masker.ts';

test('secrets are masked in every line, including inside longer words', () => {
  assert.equal(new SecretMasker(['hunter22']).mask('pw=hunter22;again hunter22'), 'pw=********;again ********');
});
