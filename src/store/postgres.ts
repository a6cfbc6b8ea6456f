import { createHash } from 'node:crypto';
import pg from 'pg';
import { NestorError, errorMessage } from '../errors.ts';
import type { Database, Row } from './database.ts';

export class DatabaseUrlError extends NestorError {
  constructor(shown: string, reason: string, options?: { cause?: unknown }) {
    super(
      'NESTOR_DATABASE_UNAVAILABLE',
      `PostgreSQL at ${shown}: ${reason}`,
      'Set NESTOR_DATABASE_URL to postgres://USER:PASSWORD@HOST:PORT/DATABASE for a server that answers, or unset it to use the embedded store.',
      options,
    );
  }
}

/** The URL with its password hidden, for messages and logs. */
export function redactedUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return JSON.stringify(url.length > 80 ? `${url.slice(0, 80)}…` : url);
  }
}

/** Refuses what is not a postgres:// URL before `pg` turns it into a confusing DNS error. */
export function checkDatabaseUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new DatabaseUrlError(redactedUrl(url), 'not a URL');
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new DatabaseUrlError(redactedUrl(url), `the scheme is ${parsed.protocol.replace(/:$/, '')}, not postgres`);
  }
}

// BIGINT columns hold milliseconds and counters that fit a JS number.
pg.types.setTypeParser(20, (v) => Number(v));

const names = new Map<string, string>();
function statementName(sql: string): string {
  let name = names.get(sql);
  if (!name) names.set(sql, (name = `nestor_${createHash('sha1').update(sql).digest('hex').slice(0, 16)}`));
  return name;
}

/** PostgreSQL through `pg`, for servers that share one database (NESTOR_DATABASE_URL). */
export class PostgresDatabase implements Database {
  readonly kind = 'postgres' as const;
  private readonly pool: pg.Pool | undefined;
  private readonly client: pg.PoolClient | undefined;
  private readonly shown: string = '';

  constructor(url: string | { client: pg.PoolClient }) {
    if (typeof url === 'string') {
      checkDatabaseUrl(url);
      this.pool = new pg.Pool({ connectionString: url, max: 10 });
      this.shown = redactedUrl(url);
    } else this.client = url.client;
  }

  /** Fails with the address and the server's reason when the database cannot be reached. */
  async connectCheck(): Promise<void> {
    if (!this.pool) return;
    try {
      const client = await this.pool.connect();
      client.release();
    } catch (err) {
      await this.pool.end().catch(() => undefined);
      throw new DatabaseUrlError(this.shown, errorMessage(err), { cause: err });
    }
  }

  async query<T extends Row = Row>(sql: string, params: unknown[] = []): Promise<T[]> {
    const values = params.map((p) => (typeof p === 'boolean' ? Number(p) : p));
    // Named statements are parsed and planned once per connection instead of on every call.
    const result = await (this.client ?? this.pool!).query({ name: statementName(sql), text: sql, values });
    return result.rows as T[];
  }

  async transaction<T>(body: (tx: Database) => Promise<T>): Promise<T> {
    if (this.client) return body(this);
    const client = await this.pool!.connect();
    try {
      await client.query('BEGIN');
      const result = await body(new PostgresDatabase({ client }));
      await client.query('COMMIT');
      return result;
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.pool?.end();
  }
}
