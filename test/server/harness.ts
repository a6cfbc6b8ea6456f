import pg from 'pg';
import pino from 'pino';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../../src/server/server.ts';
import { apiCall } from '../../src/server/api-client.ts';

export type StoreKind = 'embedded' | 'postgres';
export const STORES: StoreKind[] = ['embedded', 'postgres'];
export const ADMIN = 'nst_adm_test-admin-token-0123456789';
export const REGISTRATION = 'nst_reg_test-registration-token-0123';

/** The PostgreSQL the suite uses; scripts/test.sh starts it. Missing is a failure, never a skip. */
export function postgresUrl(): string {
  const url = process.env.NESTOR_TEST_DATABASE_URL;
  if (!url) throw new Error('NESTOR_TEST_DATABASE_URL is not set: run the suite with `bash scripts/test.sh`, which starts PostgreSQL (scripts/ensure-postgres.sh).');
  return url;
}

/** An empty PostgreSQL schema, so each test starts from nothing. */
export async function resetPostgres(): Promise<string> {
  const url = postgresUrl();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('DROP SCHEMA IF EXISTS public CASCADE; CREATE SCHEMA public;');
  await client.end();
  return url;
}

export function tempDir(prefix = 'nestor-srv-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

export async function testServer(kind: StoreKind, opts: { leaseMs?: number; dataDir?: string; port?: number; fresh?: boolean; now?: () => number } = {}): Promise<RunningServer> {
  const databaseUrl = kind === 'postgres' ? (opts.fresh === false ? postgresUrl() : await resetPostgres()) : undefined;
  return startServer({
    port: opts.port ?? 0,
    host: '127.0.0.1',
    dataDir: opts.dataDir ?? tempDir(),
    ...(databaseUrl ? { databaseUrl } : {}),
    leaseMs: opts.leaseMs ?? 30_000,
    adminToken: ADMIN,
    registrationToken: REGISTRATION,
    logger: pino({ level: 'silent' }),
    ...(opts.now ? { now: opts.now } : {}),
  });
}

export function api<T = Record<string, unknown>>(base: string, method: string, path: string, body?: unknown, token = ADMIN) {
  return apiCall<T>(base, method, path, body, token);
}
