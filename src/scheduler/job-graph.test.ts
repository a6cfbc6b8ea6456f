import assert from 'node:assert/strict';
import { test } from 'node:test';
import { JobGraphError, checkJobGraph, runJobGraph, type GraphJob, type GraphOutcome } from './job-graph.ts';

interface Result extends GraphOutcome {
  why?: string;
}

const job = (name: string, needs: string[] = [], extra: Partial<GraphJob> = {}): GraphJob => ({ name, needs: needs.map((n) => ({ job: n })), ...extra });

/** Runs the graph with jobs that take `ms` each and end as `ends` says; records start and end order. */
async function walk(jobs: GraphJob[], ends: Record<string, GraphOutcome['status']> = {}, parallel = 4, ms = 20, signal?: AbortSignal) {
  const events: string[] = [];
  let running = 0;
  let peak = 0;
  const results = await runJobGraph<GraphJob, Result>(
    jobs,
    async (j) => {
      events.push(`start ${j.name}`);
      peak = Math.max(peak, ++running);
      await new Promise((r) => setTimeout(r, ms));
      running--;
      events.push(`end ${j.name}`);
      return { status: ends[j.name] ?? 'success' };
    },
    { parallel, skipped: (_name, why) => ({ status: 'skipped', why }), ...(signal ? { signal } : {}) },
  );
  return { events, results, peak };
}

test('a diamond runs its middle jobs together, and the last one after both', async () => {
  const { events, results } = await walk([job('build'), job('unit', ['build']), job('lint', ['build']), job('deploy', ['unit', 'lint'])]);
  assert.deepEqual(events.slice(0, 3), ['start build', 'end build', 'start unit']);
  assert.equal(events[3], 'start lint', 'the two middle jobs run at the same time');
  assert.equal(events.indexOf('start deploy') > Math.max(events.indexOf('end unit'), events.indexOf('end lint')), true);
  assert.deepEqual([...results.values()].map((r) => r.status), ['success', 'success', 'success', 'success']);
});

test('a failed job skips what needs it, directly or not, and says why; unrelated jobs still run', async () => {
  const { results } = await walk([job('build'), job('test', ['build']), job('deploy', ['test']), job('docs')], { build: 'failure' });
  assert.equal(results.get('test')!.status, 'skipped');
  assert.equal(results.get('test')!.why, 'it needs build, which failed');
  assert.equal(results.get('deploy')!.why, 'it needs test, which was skipped');
  assert.equal(results.get('docs')!.status, 'success');
});

test('an allowed failure counts as success for the jobs that need it', async () => {
  const results = await runJobGraph<GraphJob, Result>([job('flaky'), job('next', ['flaky'])], async (j) => (j.name === 'flaky' ? { status: 'failure', allowedFailure: true } : { status: 'success' }), {
    parallel: 2,
    skipped: (_n, why) => ({ status: 'skipped', why }),
  });
  assert.equal(results.get('next')!.status, 'success');
});

test('when: always runs after a failure; when: on_failure runs only after one', async () => {
  const jobs = [job('test'), job('cleanup', ['test'], { when: 'always' }), job('report', ['test'], { when: 'on_failure' })];
  const failed = await walk(jobs, { test: 'failure' });
  assert.equal(failed.results.get('cleanup')!.status, 'success');
  assert.equal(failed.results.get('report')!.status, 'success');
  const passed = await walk(jobs);
  assert.equal(passed.results.get('cleanup')!.status, 'success');
  assert.equal(passed.results.get('report')!.status, 'skipped');
  assert.match(passed.results.get('report')!.why!, /runs on failure only/);
});

test('no more than `parallel` jobs run at once', async () => {
  const { peak, results } = await walk(['a', 'b', 'c', 'd', 'e'].map((n) => job(n)), {}, 2);
  assert.equal(peak, 2);
  assert.equal(results.size, 5);
});

test('a cancel lets running jobs end and records the rest as cancelled', async () => {
  const ac = new AbortController();
  setTimeout(() => ac.abort(), 10);
  const { results, events } = await walk([job('a'), job('b', ['a']), job('c', ['b'])], {}, 2, 40, ac.signal);
  assert.deepEqual(events, ['start a', 'end a']);
  assert.equal(results.get('b')!.status, 'cancelled');
  assert.equal(results.get('c')!.status, 'cancelled');
});

test('unknown needs and cycles are refused with every problem named; an optional need on an absent job is dropped', () => {
  assert.throws(() => checkJobGraph([job('a', ['ghost']), job('b', ['c']), job('c', ['b'])]), (err: JobGraphError) => {
    assert.equal(err.code, 'NESTOR_JOB_GRAPH_INVALID');
    assert.match(err.message, /job a needs ghost, which is not in the pipeline/);
    assert.match(err.message, /cycle: b → c → b/);
    return true;
  });
  const needs = checkJobGraph([{ name: 'a', needs: [{ job: 'gone', optional: true }] }]);
  assert.deepEqual(needs.get('a'), []);
  assert.throws(() => checkJobGraph([job('a'), job('a')]), /Two jobs are named a/);
});

test('a job that throws is a failure, and what needs it is skipped', async () => {
  const results = await runJobGraph<GraphJob, Result>([job('a'), job('b', ['a'])], async (j) => {
    if (j.name === 'a') throw new Error('engine gone');
    return { status: 'success' };
  }, { parallel: 1, skipped: (_n, why) => ({ status: 'skipped', why }) });
  assert.equal(results.get('a')!.status, 'failure');
  assert.match(results.get('a')!.why!, /engine gone/);
  assert.equal(results.get('b')!.status, 'skipped');
});
