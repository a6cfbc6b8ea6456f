import { MIGRATIONS } from '../../src/store/migrations.ts';
import { SqliteDatabase } from '../../src/store/sqlite.ts';

/**
 * Opens `file` with the schema of the version before secrets were sealed (its migrations
 * only, recorded as applied), for a test to write rows the way that version did.
 */
export async function legacyDatabase(file: string): Promise<SqliteDatabase> {
  const db = new SqliteDatabase(file);
  const before = MIGRATIONS.findIndex((m) => m.includes('repo_credential'));
  if (before < 0) throw new Error('no repo_credential migration: the legacy schema cannot be told apart');
  await db.query('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
  for (let v = 1; v <= before; v++) {
    await db.query(MIGRATIONS[v - 1]!);
    await db.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [v, 0]);
  }
  return db;
}
