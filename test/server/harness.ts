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
function databaseUrl(): string {
  const url = process.env.NESTOR_TEST_DATABASE_URL;
  if (!url) throw new Error('NESTOR_TEST_DATABASE_URL is not set: run the suite with `bash scripts/test.sh`, which starts PostgreSQL (scripts/ensure-postgres.sh).');
  return url;
}

/**
 * This test process's schema: the suite runs files side by side, each in a process of its own,
 * and each must be able to start from nothing without dropping another's tables. scripts/test.sh
 * drops what is left of these schemas before and after the suite.
 */
export const TEST_SCHEMA = `nestor_test_${process.pid}`;

/** The URL of this process's schema (every server and store of a test shares it). */
export function postgresUrl(): string {
  const u = new URL(databaseUrl());
  u.searchParams.set('options', `-c search_path=${TEST_SCHEMA}`);
  return u.toString();
}

/** An empty PostgreSQL schema, so each test starts from nothing. */
export async function resetPostgres(): Promise<string> {
  const client = new pg.Client({ connectionString: databaseUrl() });
  await client.connect();
  await client.query(`DROP SCHEMA IF EXISTS ${TEST_SCHEMA} CASCADE; CREATE SCHEMA ${TEST_SCHEMA};`);
  await client.end();
  if (!schemaDropAtExit) {
    schemaDropAtExit = true;
    process.once('beforeExit', () => void dropTestSchema());
  }
  return postgresUrl();
}

let schemaDropAtExit = false;

/** Removes this process's schema once its tests are done (what a crash leaves, scripts/test.sh drops). */
async function dropTestSchema(): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl() });
  try {
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS ${TEST_SCHEMA} CASCADE`);
  } catch {
    // scripts/test.sh drops it after the suite
  } finally {
    await client.end().catch(() => undefined);
  }
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
