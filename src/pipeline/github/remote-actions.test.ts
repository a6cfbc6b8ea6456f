import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_INCLUDE_SOURCE, FetchError, fetchActionTree } from '../include-fetch.ts';

const source = (actionsBase: string) => ({ ...DEFAULT_INCLUDE_SOURCE, actionsBase, cacheDir: '/nonexistent/nestor-test-cache' });
const refusal = (f: () => unknown): FetchError => {
  try {
    f();
  } catch (err) {
    assert.ok(err instanceof FetchError, String(err));
    return err;
  }
  assert.fail('expected a refusal');
};

test('remote actions come only from where the operator allows: https or a named file:// folder, never a private address unless allowed', () => {
  const privateHost = refusal(() => fetchActionTree('octo', 'hello', 'v1', '', source('https://127.0.0.1')));
  assert.equal(privateHost.refused, true);
  assert.match(privateHost.message, /private address 127\.0\.0\.1 .*NESTOR_INCLUDE_ALLOW_PRIVATE/);
  assert.match(refusal(() => fetchActionTree('octo', 'hello', 'v1', '', source('ftp://example.com'))).message, /fetched over https/);
  assert.match(refusal(() => fetchActionTree('..', 'hello', 'v1', '', source('https://github.com'))).message, /not a repository name/);
  assert.match(refusal(() => fetchActionTree('octo', 'hello', 'v1;rm -rf', '', source('https://github.com'))).message, /not a ref/);
  assert.match(refusal(() => fetchActionTree('octo', 'hello', 'v1', 'a/../../b', source('https://github.com'))).message, /leads out of the repository/);
});
