// The bench starts servers the way the tests do, with fixed tokens and a fresh store.
import pg from 'pg';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { Store } from '../src/server/store/store.ts';
import { apiCall } from '../src/server/api-client.ts';

export const ADMIN = 'nst_adm_bench-admin-token-0123456789';
export const REGISTRATION = 'nst_reg_bench-registration-token-012';
/** One key for every bench server: those sharing a PostgreSQL store must seal with the same. */
export const SECRET_KEY = 'b3e1c0a7d4f25968a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718';

const BENCH_SCHEMA = 'nestor_bench';

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'nestor-bench-'));
}

export interface BenchServer {
  url: string;
  /** The server process, for its CPU in /proc. */
  pid: number;
  /** The same store, opened by the bench itself, for bulk set-up. */
  store: Store;
  close(): Promise<void>;
}

/**
 * A `nestor server` process with a fresh store: a separate process, so the load the bench
 * generates does not run on the server's own event loop.
 */
export async function freshStore(kind: 'embedded' | 'postgres'): Promise<{ server: BenchServer; databaseUrl?: string }> {
  let databaseUrl: string | undefined;
  if (kind === 'postgres') {
    const testUrl = process.env.NESTOR_TEST_DATABASE_URL;
    if (!testUrl) throw new Error('set NESTOR_TEST_DATABASE_URL (bash scripts/ensure-postgres.sh prints one)');
    // A schema of the bench's own in the test database: the suite, run meanwhile, drops `public`
    // (and the bench dropping it would break the suite's servers).
    const u = new URL(testUrl);
    u.searchParams.set('options', `-c search_path=${BENCH_SCHEMA}`);
    databaseUrl = u.toString();
    const c = new pg.Client({ connectionString: testUrl });
    await c.connect();
    await c.query(`DROP SCHEMA IF EXISTS ${BENCH_SCHEMA} CASCADE; CREATE SCHEMA ${BENCH_SCHEMA};`);
    await c.end();
  }
  const dataDir = tempDir();
  const port = 20000 + Math.floor(Math.random() * 20000);
  const child = spawn(new URL('../bin/nestor', import.meta.url).pathname, ['server', '--port', String(port), '--data-dir', dataDir], {
    env: { ...process.env, NESTOR_ADMIN_TOKEN: ADMIN, NESTOR_REGISTRATION_TOKEN: REGISTRATION, NESTOR_SECRET_KEY: SECRET_KEY, LOG_LEVEL: 'warn', ...(databaseUrl ? { NESTOR_DATABASE_URL: databaseUrl } : {}) },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (await fetch(`${url}/health`).then((r) => r.ok, () => false)) break;
    if (i > 150) throw new Error('bench server did not start');
    await new Promise((r) => setTimeout(r, 100));
  }
  const store = await Store.open(databaseUrl ? { databaseUrl } : { file: join(dataDir, 'nestor.db') });
  const exited = new Promise((r) => child.once('exit', r));
  return {
    server: {
      url,
      pid: child.pid!,
      store,
      async close() {
        await store.close();
        child.kill('SIGTERM');
        await exited;
      },
    },
    ...(databaseUrl ? { databaseUrl } : {}),
  };
}

export function api<T = Record<string, unknown>>(base: string, method: string, path: string, body?: unknown, token = ADMIN) {
  return apiCall<T>(base, method, path, body, token);
}
