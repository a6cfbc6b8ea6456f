import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { applyHttpLimits, DEFAULT_HTTP_LIMITS, httpLimits } from './http-limits.ts';

test('HTTP limits have defaults, and nonsense is refused with what to give', () => {
  assert.deepEqual(httpLimits(), DEFAULT_HTTP_LIMITS);
  assert.equal(httpLimits({ maxConnections: 10 }).maxConnections, 10);
  assert.throws(() => httpLimits({ maxConnections: Number('many') }), /maxConnections must be a positive number/);
  assert.throws(() => httpLimits({ headersTimeoutMs: 90_000, requestTimeoutMs: 60_000 }), /headers timeout .* is longer than the request timeout/);
});

test('the limits are set on the server, checked every second at most', () => {
  const server = createServer();
  applyHttpLimits(server, httpLimits({ headersTimeoutMs: 2000, requestTimeoutMs: 5000, maxConnections: 7 }));
  assert.deepEqual([server.headersTimeout, server.requestTimeout, server.maxConnections], [2000, 5000, 7]);
  assert.equal((server as unknown as { connectionsCheckingInterval: number }).connectionsCheckingInterval, 1000);
});
