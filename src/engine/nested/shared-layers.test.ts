import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chainIds, repositoriesJson } from './shared-layers.ts';

test('chain IDs follow the OCI rule: the first is the diff ID, then sha256(parent + " " + diff)', () => {
  const a = `sha256:${'a'.repeat(64)}`;
  const b = `sha256:${'b'.repeat(64)}`;
  // printf 'sha256:aaa… sha256:bbb…' | sha256sum
  assert.deepEqual(chainIds([a, b]), [a, 'sha256:ccd722928bd92476ba1745586fed6e45a102504185ad88cd89e01ff116fd146c']);
});

test('tags are written under the names dockerd itself uses', () => {
  const id = `sha256:${'c'.repeat(64)}`;
  const json = JSON.parse(repositoriesJson([
    { reference: 'docker.io/library/alpine:3.19', id },
    { reference: 'busybox', id },
    { reference: 'localhost:5000/team/app:1', id },
    { reference: `alpine@sha256:${'d'.repeat(64)}`, id },
  ]));
  assert.deepEqual(json, {
    Repositories: {
      alpine: { 'alpine:3.19': id },
      busybox: { 'busybox:latest': id },
      'localhost:5000/team/app': { 'localhost:5000/team/app:1': id },
    },
  });
});
