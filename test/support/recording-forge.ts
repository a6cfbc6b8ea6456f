import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ForgeCall {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: Record<string, unknown>;
}

export interface RecordingForge {
  url: string;
  calls: ForgeCall[];
  waitFor(match: (c: ForgeCall) => boolean, timeoutMs: number): Promise<ForgeCall>;
  close(): Promise<void>;
}

/** The routes the forges document for commit statuses and webhooks (GitHub and Gitea: /repos/O/R/…, GitLab: /projects/ID/…). */
const ROUTES = [/^(\/api\/v\d+)?\/repos\/[^/]+\/[^/]+\/statuses\/[0-9a-f]+$/, /^(\/api\/v\d+)?\/projects\/[^/]+\/statuses\/[0-9a-f]+$/, /^(\/api\/v\d+)?\/repos\/[^/]+\/[^/]+\/hooks$/, /^(\/api\/v\d+)?\/projects\/[^/]+\/hooks$/];

/**
 * A real HTTP server standing in for a forge's API: it records every call (path, headers, JSON
 * body) and answers as the forges do (201 with a JSON echo); `failFirst` calls are answered 503,
 * as a forge that is down.
 */
export async function startRecordingForge(opts: { failFirst?: number } = {}): Promise<RecordingForge> {
  const calls: ForgeCall[] = [];
  const waiters = new Set<() => void>();
  let toFail = opts.failFirst ?? 0;
  let hookIds = 0;
  const server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const path = (req.url ?? '').split('?')[0]!;
      let body: Record<string, unknown> = {};
      try {
        body = raw ? (JSON.parse(raw) as Record<string, unknown>) : {};
      } catch {
        // recorded as empty: the test's assertions on the body say what was wrong
      }
      calls.push({ method: req.method ?? '', path, headers: req.headers, body });
      for (const w of waiters) w();
      if (toFail > 0) {
        toFail--;
        res.writeHead(503, { 'content-type': 'application/json' }).end('{"message":"unavailable"}');
        return;
      }
      if (req.method !== 'POST' || !ROUTES.some((r) => r.test(path))) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"Not Found"}');
        return;
      }
      res.writeHead(201, { 'content-type': 'application/json' }).end(JSON.stringify(path.endsWith('/hooks') ? { id: ++hookIds, ...body } : body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    calls,
    waitFor(match, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = calls.find(match);
          if (!found) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(found);
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no such call to the forge in ${timeoutMs} ms; calls: ${JSON.stringify(calls.map((c) => [c.path, c.body.state]))}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
