import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UNPRIVILEGED_USER, instanceUser, userNamespaced } from './instance.ts';

test('on an engine without a user namespace, an image that runs as root (or names no user) runs as nobody; any other user is kept', () => {
  for (const root of [undefined, '', ' ', 'root', '0', 'root:root', '0:0', '0:1000']) assert.equal(instanceUser(root, false), UNPRIVILEGED_USER, String(root));
  for (const user of ['app', '1000', '1000:1000', 'node:node', 'rooty']) assert.equal(instanceUser(user, false), user);
});

test("in a user-namespaced engine the image's own user is kept, root included: it is the namespace's root", () => {
  for (const user of ['', 'root', '0:0', 'app', '1000:1000']) assert.equal(instanceUser(user, true), user);
});

test('a rootless or userns-remapped engine is told apart from a plain one by its security options', () => {
  assert.equal(userNamespaced(['name=seccomp,profile=default', 'name=rootless']), true);
  assert.equal(userNamespaced(['name=apparmor', 'name=seccomp,profile=builtin', 'name=userns']), true);
  assert.equal(userNamespaced(['name=apparmor', 'name=seccomp,profile=builtin', 'name=cgroupns']), false);
  assert.equal(userNamespaced(undefined), false);
});
