// Closed-loop HTTP load for the benches: N clients, each sending its next request when the last
// one is answered, over kept-alive connections. Node's http client, not fetch: on a two-core
// machine the load generator shares the CPU with the server, and fetch's own overhead (about
// twice node:http's per request here) showed up as server latency.
import http from 'node:http';
import { percentile } from './stats.ts';

export interface LoadResult {
  rps: number;
  p50_ms: number;
  p99_ms: number;
}

export class HttpLoad {
  private readonly url: URL;
  private readonly token: string;
  private readonly agent: http.Agent;

  constructor(base: string, token: string, clients: number) {
    this.url = new URL(base);
    this.token = token;
    this.agent = new http.Agent({ keepAlive: true, maxSockets: clients });
  }

  /** One request; answers the status and the body's text. */
  request(method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const req = http.request(
        {
          host: this.url.hostname,
          port: this.url.port,
          method,
          path,
          agent: this.agent,
          headers: {
            authorization: `Bearer ${this.token}`,
            ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
          },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  /** `total` calls of `one` by `clients` concurrent clients, after `warmup` unmeasured ones. */
  async run(opts: { total: number; clients: number; warmup?: number }, one: (i: number) => Promise<void>): Promise<LoadResult> {
    if (opts.warmup) await closedLoop(opts.warmup, opts.clients, one, []);
    const latencies: number[] = [];
    const t0 = performance.now();
    await closedLoop(opts.total, opts.clients, one, latencies);
    const seconds = (performance.now() - t0) / 1000;
    return { rps: Math.round(opts.total / seconds), p50_ms: percentile(latencies, 50), p99_ms: percentile(latencies, 99) };
  }

  close(): void {
    this.agent.destroy();
  }
}

async function closedLoop(total: number, clients: number, one: (i: number) => Promise<void>, latencies: number[]): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < total) {
        const i = next++;
        const t = performance.now();
        await one(i);
        latencies.push(performance.now() - t);
      }
    }),
  );
}
