import http from 'node:http';
import https from 'node:https';
import { NestorError, isErrorCode } from '../errors.ts';

/**
 * A server's problem+json answer, as the runner received it: the server's code, detail and hint,
 * and the status it came with (the client's fact to retry on, not a status chosen here).
 */
export class ServerProblem extends NestorError {
  readonly status: number;
  constructor(status: number, body: { code?: string; detail?: string; hint?: string }, what: string) {
    super(isErrorCode(body.code) ? body.code : `NESTOR_HTTP_${status}`, `${what}: ${body.detail ?? `HTTP ${status}`}`, body.hint ?? 'Check the server URL and token.');
    this.status = status;
  }
}

/**
 * Whether a failed call is worth repeating as it was: the server was away (no answer at all),
 * failing (5xx), or asking to slow down (408, 429). Any other 4xx is an answer about the
 * request itself, which the same request would get again.
 */
export function isRetryable(err: unknown): boolean {
  if (!(err instanceof ServerProblem)) return true;
  return err.status >= 500 || err.status === 408 || err.status === 429;
}

/** The runner's side of the runner protocol: JSON over HTTP with a bearer token and deadlines. */
export class ServerClient {
  readonly base: string;
  token: string;

  constructor(base: string, token: string) {
    this.base = base.replace(/\/+$/, '');
    this.token = token;
  }

  async call<T>(method: string, path: string, body?: unknown, timeoutMs = 10_000, signal?: AbortSignal): Promise<T | undefined> {
    const deadline = AbortSignal.timeout(timeoutMs);
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: signal ? AbortSignal.any([deadline, signal]) : deadline,
    });
    if (res.status === 204) return undefined;
    const text = await res.text();
    if (!res.ok) throw new ServerProblem(res.status, problemOf(text), `${method} ${path}`);
    return text ? (JSON.parse(text) as T) : undefined;
  }

  /** POSTs a body that is JSON already, without a copy (see `postJson`). */
  postJson<T>(path: string, body: Buffer, timeoutMs?: number): Promise<T | undefined> {
    return postJson<T>(this.base, this.token, path, body, timeoutMs);
  }
}

/** Connections kept open for the log batches a busy job sends several times a second. */
const agents = { http: new http.Agent({ keepAlive: true, maxSockets: 8 }), https: new https.Agent({ keepAlive: true, maxSockets: 8 }) };

/**
 * POSTs a body that is JSON already, without copying it (fetch copies every body it is given,
 * which for a job's stream of log batches is garbage the runner's heap grows with). Answers the
 * parsed JSON; fails as `call` does.
 */
export function postJson<T>(base: string, token: string, path: string, body: Buffer, timeoutMs = 10_000): Promise<T | undefined> {
  const url = new URL(`${base.replace(/\/+$/, '')}${path}`);
  const secure = url.protocol === 'https:';
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request(
      url,
      {
        method: 'POST',
        agent: secure ? agents.https : agents.http,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-length': body.length },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          const status = res.statusCode ?? 0;
          if (status < 200 || status >= 300) return reject(new ServerProblem(status, problemOf(text), `POST ${path}`));
          try {
            resolve(status === 204 || !text ? undefined : (JSON.parse(text) as T));
          } catch (err) {
            reject(err);
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`POST ${path}: no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(body);
  });
}

/** A problem body, or nothing useful when a proxy in between answered with HTML or text. */
export function problemOf(text: string): { code?: string; detail?: string; hint?: string } {
  try {
    const parsed = JSON.parse(text) as unknown;
    return parsed && typeof parsed === 'object' ? (parsed as { code?: string; detail?: string; hint?: string }) : {};
  } catch {
    return {};
  }
}
