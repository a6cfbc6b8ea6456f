import { test } from 'node:test';
import assert from 'node:assert/strict';
import { containerSafeName } from './container-name.ts';

test('a step name Docker takes is kept; any other is made readable and unique', () => {
  assert.equal(containerSafeName('build'), 'build');
  const a = containerSafeName('test:unit');
  const b = containerSafeName('test unit');
  assert.match(a, /^test-unit-[0-9a-f]{8}$/);
  assert.notEqual(a, b);
  assert.match(containerSafeName('build: [linux, 1/3]'), /^build-linux-1-3-[0-9a-f]{8}$/);
  assert.match(containerSafeName(':::'), /^step-[0-9a-f]{8}$/);
});
