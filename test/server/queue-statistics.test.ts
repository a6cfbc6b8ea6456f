import { test } from 'node:test';
import assert from 'node:assert/strict';
import { POSTGRES_LEASE, Store } from '../../src/server/store/store.ts';
import { resetPostgres } from './harness.ts';

/**
 * Whether the planner's statistics know of the burst. pg_class is written by ANALYZE itself, in
 * its transaction; pg_stat_user_tables.last_analyze is reported later, when the backend that ran
 * it next flushes its statistics, which a busy machine can put off past any wait here.
 */
async function analysed(store: Store): Promise<boolean> {
  const [row] = await store.db.query<{ rows: number }>("SELECT reltuples AS rows FROM pg_class WHERE oid = 'jobs'::regclass");
  return Number(row?.rows ?? -1) >= 1000;
}

test('[postgres] after a burst of submissions the lease takes the first queued job by index, not by sorting the queue', { timeout: 120_000 }, async () => {
  const store = await Store.open({ databaseUrl: await resetPostgres() });
  const problems: string[] = [];
  store.onProblem = (what, err) => problems.push(`${what}: ${String(err)}`);
  try {
    // A young table has no statistics; the planner then believes few jobs are queued.
    for (let i = 0; i < 3000; i++) await store.createJob({ name: `burst-${i}`, spec: {} });
    for (let waited = 0; !(await analysed(store)); waited += 100) {
      assert.ok(waited < 30_000, `the jobs table was not analysed after 3,000 submissions${problems.length ? `:\n${problems.join('\n')}` : ''}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const plan = (await store.db.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${POSTGRES_LEASE}`, ['r', '[]', 4, Date.now() + 30_000, Date.now(), '0'.repeat(64)]))
      .map((r) => r['QUERY PLAN'])
      .join('\n');
    assert.match(plan, /Index Scan using jobs_queue on jobs/, plan);
    assert.doesNotMatch(plan, /\bSort\b/, plan);
  } finally {
    await store.close();
  }
});
