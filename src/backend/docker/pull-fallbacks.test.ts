import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pullFallbacks } from './pull-fallbacks.ts';

// Lines as a nested dockerd 20.10 writes them when its mirror refuses a manifest.
const LOG = String.raw`time="2026-11-23T06:54:27.684421317Z" level=info msg="API listen on /var/run/docker.sock"
time="2026-11-23T06:54:28.097670973Z" level=info msg="Attempting next endpoint for pull after error: manifest unknown: manifest unknown"
time="2026-11-23T06:54:28.137967305Z" level=warning msg="Error getting v2 registry: Get \"https://registry-1.docker.io/v2/\": dial tcp: lookup registry-1.docker.io on 127.0.0.11:53: no such host"
time="2026-11-23T06:54:28.148480300Z" level=info msg="Attempting next endpoint for pull after error: Get \"https://registry-1.docker.io/v2/\": dial tcp: lookup registry-1.docker.io on 127.0.0.11:53: no such host"
time="2026-11-23T06:54:29.000000000Z" level=info msg="Attempting next endpoint for pull after error: manifest unknown: manifest unknown"`;

test('the errors dockerd moved past are listed in order, each once, quotes unescaped', () => {
  assert.deepEqual(pullFallbacks(LOG, 0), [
    'manifest unknown: manifest unknown',
    'Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io on 127.0.0.11:53: no such host',
  ]);
});

test('lines logged before the job started are not its own', () => {
  assert.deepEqual(pullFallbacks(LOG, Date.parse('2026-11-23T06:54:28.140Z')), [
    'Get "https://registry-1.docker.io/v2/": dial tcp: lookup registry-1.docker.io on 127.0.0.11:53: no such host',
    'manifest unknown: manifest unknown',
  ]);
  assert.deepEqual(pullFallbacks(LOG, Date.parse('2026-11-23T07:00:00Z')), []);
});
