/**
 * The little SQL both stores share. Queries are written once, with `$1`-style parameters and
 * portable types (TEXT, BIGINT, INTEGER), so one schema and one set of migrations serve the
 * embedded store and PostgreSQL alike.
 */
export type Row = Record<string, unknown>;

export interface Database {
  readonly kind: 'sqlite' | 'postgres';
  query<T extends Row = Row>(sql: string, params?: unknown[]): Promise<T[]>;
  /** Runs `body` in one transaction; PostgreSQL takes row locks, SQLite the write lock. */
  transaction<T>(body: (tx: Database) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
