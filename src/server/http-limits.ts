import type { Server } from 'node:http';
import { NestorError } from '../errors.ts';

/**
 * What a client may take of the server before it is cut off. Node's defaults leave a slow
 * client holding a connection for as long as it likes (Fastify turns the request timeout
 * off), and with enough of them no one else gets in.
 */
export interface HttpLimits {
  /** Time to send the request's headers (a client sending one byte a second is cut off). */
  headersTimeoutMs: number;
  /** Time to send the whole request, body included. Answers may take longer (log streams, long polls). */
  requestTimeoutMs: number;
  /** Connections open at once; past it new ones are closed at once. */
  maxConnections: number;
}

export const DEFAULT_HTTP_LIMITS: Readonly<HttpLimits> = Object.freeze({
  headersTimeoutMs: 15_000,
  requestTimeoutMs: 60_000,
  maxConnections: 1024,
});

export function httpLimits(overrides: Partial<HttpLimits> = {}): HttpLimits {
  const limits = { ...DEFAULT_HTTP_LIMITS, ...overrides };
  for (const [key, value] of Object.entries(limits)) {
    if (!Number.isFinite(value) || value <= 0) throw new NestorError('NESTOR_BAD_HTTP_LIMIT', `${key} must be a positive number, not ${value}`, 'Give the timeouts in seconds and the connection cap as a count, all above 0.');
  }
  if (limits.headersTimeoutMs > limits.requestTimeoutMs) {
    throw new NestorError('NESTOR_BAD_HTTP_LIMIT', `the headers timeout (${limits.headersTimeoutMs} ms) is longer than the request timeout (${limits.requestTimeoutMs} ms)`, 'The headers are part of the request: give them at most as long.');
  }
  return limits;
}

/** Applies the limits to a server before it listens. */
export function applyHttpLimits(server: Server, limits: HttpLimits): void {
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.maxConnections = limits.maxConnections;
  // Node looks for late requests on this interval (30 s by default, read when listening): a
  // slow client is then cut off within a second of its deadline, not up to 30 s after it.
  (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = Math.min(1000, limits.headersTimeoutMs);
}
