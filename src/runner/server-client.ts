import { NestorError } from '../errors.ts';

export class ServerProblem extends NestorError {
  readonly status: number;
  constructor(status: number, body: { code?: string; detail?: string; hint?: string }, what: string) {
    super(body.code ?? `NESTOR_HTTP_${status}`, `${what}: ${body.detail ?? `HTTP ${status}`}`, body.hint ?? 'Check the server URL and token.');
    this.status = status;
  }
}

/** The runner's side of the runner protocol: JSON over HTTP with a bearer token and deadlines. */
export class ServerClient {
  readonly base: string;
  token: string;

  constructor(base: string, token: string) {
    this.base = base.replace(/\/+$/, '');
    this.token = token;
  }

  async call<T>(method: string, path: string, body?: unknown, timeoutMs = 10_000): Promise<T | undefined> {
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: { authorization: `Bearer ${this.token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (res.status === 204) return undefined;
    const text = await res.text();
    const parsed = text ? (JSON.parse(text) as T & { code?: string; detail?: string; hint?: string }) : undefined;
    if (!res.ok) throw new ServerProblem(res.status, parsed ?? {}, `${method} ${path}`);
    return parsed;
  }
}
