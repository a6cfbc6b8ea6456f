import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UNPRIVILEGED_USER, unprivilegedUser } from './instance.ts';

test('an image that runs as root, or names no user, runs as nobody; any other user is kept', () => {
  for (const root of [undefined, '', ' ', 'root', '0', 'root:root', '0:0', '0:1000']) assert.equal(unprivilegedUser(root), UNPRIVILEGED_USER, String(root));
  for (const user of ['app', '1000', '1000:1000', 'node:node', 'rooty']) assert.equal(unprivilegedUser(user), user);
});
