import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseReference, hostName } from './reference.ts';

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
