import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BatchedInsert } from './batched-insert.ts';
import type { Database } from '../../store/database.ts';
import { SqliteDatabase } from '../../store/sqlite.ts';

/** A real in-memory SQLite that counts the statements it is given. */
async function countingDb(): Promise<{ db: Database; statements: string[] }> {
  const real = new SqliteDatabase(':memory:');
  await real.query('CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT NOT NULL)');
  const statements: string[] = [];
  const db: Database = {
    kind: real.kind,
    query: (sql, params) => {
      statements.push(sql);
      return real.query(sql, params);
    },
    transaction: (body) => real.transaction(body),
    close: () => real.close(),
  };
  return { db, statements };
}

async function count(db: Database): Promise<number> {
  const [row] = await db.query<{ n: number }>('SELECT COUNT(*) AS n FROM t');
  return Number(row?.n);
}

test('rows added in one turn of the event loop are written by one INSERT, and each caller learns when it is committed', async () => {
  const { db, statements } = await countingDb();
  const inserts = new BatchedInsert(db, 't', ['id', 'name']);
  await Promise.all(Array.from({ length: 100 }, (_, i) => inserts.add([i, `row ${i}`])));
  assert.equal(statements.length, 2, 'at most 64 rows per statement: 100 rows, 2 statements');
  assert.equal(await count(db), 100);
  await db.close();
});

test('a failed INSERT fails every caller whose row was in it, with the database error', async () => {
  const { db } = await countingDb();
  const inserts = new BatchedInsert(db, 't', ['id', 'name']);
  const results = await Promise.allSettled([inserts.add([1, 'a']), inserts.add([2, null])]);
  assert.deepEqual(results.map((r) => r.status), ['rejected', 'rejected']);
  assert.match(String((results[0] as PromiseRejectedResult).reason), /NOT NULL/);
  assert.equal(await count(db), 0, 'nothing of the failed statement is kept');
  await db.close();
});

test('settled() writes what is waiting before the database is closed', async () => {
  const { db } = await countingDb();
  const inserts = new BatchedInsert(db, 't', ['id', 'name']);
  const added = inserts.add([7, 'late']);
  await inserts.settled();
  await added;
  assert.deepEqual((await db.query<{ name: string }>('SELECT name FROM t')).map((r) => r.name), ['late']);
  await db.close();
});
