import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { Database, Row } from './database.ts';

/**
 * The embedded store: one SQLite file under the data directory, no server to run. WAL mode
 * lets other processes read while this one writes. One connection serves the process, so
 * transactions are serialised here: a query from elsewhere waits until the open transaction
 * ends instead of slipping into it.
 */
export class SqliteDatabase implements Database {
  readonly kind = 'sqlite' as const;
  private readonly db: DatabaseSync;
  private queue: Promise<unknown> = Promise.resolve();
  /** Prepared once per distinct query: preparing costs as much as running a small insert. */
  private readonly statements = new Map<string, StatementSync>();

  constructor(file: string) {
    if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
    this.db = new DatabaseSync(file);
    this.db.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 5000;');
  }

  query<T extends Row = Row>(sql: string, params: unknown[] = []): Promise<T[]> {
    return this.serialised(async () => this.run<T>(sql, params));
  }

  transaction<T>(body: (tx: Database) => Promise<T>): Promise<T> {
    return this.serialised(async () => {
      this.db.exec('BEGIN IMMEDIATE');
      const tx: Database = {
        kind: 'sqlite',
        query: async <R extends Row>(sql: string, params?: unknown[]) => this.run<R>(sql, params ?? []),
        transaction: (inner) => inner(tx),
        close: async () => undefined,
      };
      try {
        const result = await body(tx);
        this.db.exec('COMMIT');
        return result;
      } catch (err) {
        this.db.exec('ROLLBACK');
        throw err;
      }
    });
  }

  async close(): Promise<void> {
    await this.queue.catch(() => undefined);
    this.db.close();
  }

  private serialised<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private run<T extends Row>(sql: string, params: unknown[]): T[] {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.db.prepare(sql.replace(/\$(\d+)/g, '?$1'));
      if (this.statements.size < 500) this.statements.set(sql, statement);
    }
    const values = params.map((p) => (typeof p === 'boolean' ? Number(p) : p === undefined ? null : p)) as (string | number | null)[];
    if (/^\s*(select|with)\b|\breturning\b/i.test(sql)) return statement.all(...values) as T[];
    statement.run(...values);
    return [];
  }
}
