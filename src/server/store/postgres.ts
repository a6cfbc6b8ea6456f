import { createHash } from 'node:crypto';
import pg from 'pg';
import type { Database, Row } from './database.ts';

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

  constructor(url: string | { client: pg.PoolClient }) {
    if (typeof url === 'string') this.pool = new pg.Pool({ connectionString: url, max: 10 });
    else this.client = url.client;
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
