import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseReference, hostName, splitTag } from './reference.ts';

test('short, library and fully qualified Docker Hub names are the same image', () => {
  const want = { registry: 'docker.io', repository: 'library/alpine', tag: '3.19' };
  assert.deepEqual(parseReference('alpine:3.19'), want);
  assert.deepEqual(parseReference('library/alpine:3.19'), want);
  assert.deepEqual(parseReference('docker.io/library/alpine:3.19'), want);
  assert.equal(hostName(parseReference('docker.io/library/alpine:3.19')), 'alpine:3.19');
});

test('a missing tag means latest; organisations keep their prefix', () => {
  assert.deepEqual(parseReference('grafana/grafana'), { registry: 'docker.io', repository: 'grafana/grafana', tag: 'latest' });
  assert.equal(hostName(parseReference('grafana/grafana')), 'grafana/grafana:latest');
});

test('a host with a port or a dot is a registry, not an organisation', () => {
  assert.deepEqual(parseReference('localhost:5000/team/app:v2'), { registry: 'localhost:5000', repository: 'team/app', tag: 'v2' });
  assert.equal(parseReference('ghcr.io/owner/tool@sha256:abc').digest, 'sha256:abc');
});

test('splitTag: a registry port is no tag, a digest is kept apart, a missing tag is latest', () => {
  assert.deepEqual(splitTag('alpine'), ['alpine', 'latest']);
  assert.deepEqual(splitTag('alpine:3.19'), ['alpine', '3.19']);
  assert.deepEqual(splitTag('host:5000/repo'), ['host:5000/repo', 'latest']);
  assert.deepEqual(splitTag('host:5000/repo:tag'), ['host:5000/repo', 'tag']);
  assert.deepEqual(splitTag('localhost:5000/team/app:v2'), ['localhost:5000/team/app', 'v2']);
  assert.deepEqual(splitTag('ghcr.io/owner/tool@sha256:abc'), ['ghcr.io/owner/tool', 'latest', 'sha256:abc']);
  assert.deepEqual(splitTag('host:5000/repo:1.2@sha256:abc'), ['host:5000/repo', '1.2', 'sha256:abc']);
  assert.deepEqual(splitTag('docker:dind@sha256:abc'), ['docker', 'dind', 'sha256:abc']);
  assert.deepEqual(splitTag(' busybox:latest '), ['busybox', 'latest']);
});

test('parseReference splits as splitTag does, then finds the registry', () => {
  assert.deepEqual(parseReference('host:5000/repo:1.2@sha256:abc'), { registry: 'host:5000', repository: 'repo', tag: '1.2', digest: 'sha256:abc' });
  assert.deepEqual(parseReference('host:5000/repo'), { registry: 'host:5000', repository: 'repo', tag: 'latest' });
});
