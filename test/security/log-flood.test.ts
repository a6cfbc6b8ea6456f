// Issue 13, item 4: logs of any size, never lost. A real job on a real server and runner prints
// 100 MB on one line, then 100 MB on a million lines: the stored log is whole up to the cut and
// the cap, says where it was cut, the job's status is right, the server keeps answering, and
// the runner's memory stays bounded (it grew by 4 GB before).
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { FLOOD_BYTES, MILLION_LINES, ONE_LINE, rssOf, sampleRss } from '../../bench/rss.ts';
import { MAX_LINE_BYTES, cutNote } from '../../src/backend/line-writer.ts';
import { DEFAULT_LOG_CAP_BYTES, type LogRecord } from '../../src/server/store/store.ts';
import { hostEngine } from '../helpers.ts';
import { api, testServer } from '../server/harness.ts';
import { startRunnerProcess, waitForJob } from '../server/processes.ts';

await hostEngine();
const server = await testServer('embedded');
const runner = await startRunnerProcess(server.url, 'flood');
after(async () => {
  await runner.stop();
  await server.close();
});
const pid = runner.child.pid!;

/** Runs one job while timing /health; answers the job, the slowest /health and the RSS growth. */
async function flood(name: string, run: string) {
  const before = rssOf(pid);
  const rss = sampleRss(pid);
  let slowest = 0;
  let polling = true;
  const health = (async () => {
    while (polling) {
      const t = performance.now();
      assert.equal((await fetch(`${server.url}/health`)).status, 200);
      slowest = Math.max(slowest, performance.now() - t);
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const job = await api<{ id: string }>(server.url, 'POST', '/api/jobs', { name, runner: 'flood', retry: { policy: 'fail', max_attempts: 1 }, steps: [{ name: 'flood', run }] });
  const done = await waitForJob(server.url, job.body.id, 240_000);
  polling = false;
  await health;
  return { id: job.body.id, job: done, slowestHealthMs: slowest, rssGrowth: rss.stop() - before };
}

async function storedLog(id: string): Promise<LogRecord[]> {
  const all: LogRecord[] = [];
  for (let after = 0; ; ) {
    const page = await server.store.logsAfter(id, after, 50_000);
    if (!page.length) return all;
    for (const l of page) all.push(l);
    after = page.at(-1)!.seq;
  }
}

test('100 MB on one line: the first 64 KiB are kept, the rest counted on one line, the job succeeds', { timeout: 300_000 }, async () => {
  const r = await flood('one-line', `${ONE_LINE}; echo; echo after the flood`);
  assert.equal(r.job.status, 'succeeded', JSON.stringify(r.job));
  assert.equal(r.job.error, null, 'no log line was lost');
  // Past the `+ command` echo every step begins with.
  const step = (await storedLog(r.id)).filter((l) => l.source === 'flood' && !l.text.startsWith('+ ')).map((l) => l.text);
  assert.deepEqual(step.map((t) => t.length), [MAX_LINE_BYTES, cutNote(FLOOD_BYTES - MAX_LINE_BYTES).length, 'after the flood'.length]);
  assert.equal(step[0], 'a'.repeat(MAX_LINE_BYTES));
  assert.equal(step[1], cutNote(FLOOD_BYTES - MAX_LINE_BYTES));
  assert.equal(step[2], 'after the flood', 'what follows the cut line is kept');
  assert.ok(r.slowestHealthMs < 2000, `/health took ${Math.round(r.slowestHealthMs)} ms during the job`);
  assert.ok(r.rssGrowth < 100 * 1024 * 1024, `the runner grew by ${Math.round(r.rssGrowth / 1048576)} MB`);
});

test('100 MB on a million lines: the log is whole up to the cap, then counted, and the job succeeds', { timeout: 300_000 }, async () => {
  const r = await flood('million-lines', MILLION_LINES);
  assert.equal(r.job.status, 'succeeded', JSON.stringify(r.job));
  assert.equal(r.job.error, null, 'reaching the cap is no error');
  const log = await storedLog(r.id);
  const step = log.filter((l) => l.source === 'flood' && !l.text.startsWith('+ '));
  const line = 'a'.repeat(99);
  assert.ok(step.every((l) => l.text === line), 'every kept line is whole');
  const seqs = step.map((l) => l.seq);
  assert.equal(seqs.at(-1)! - seqs[0]! + 1, step.length, 'and none is missing in between');
  // Every line but the two that report the cap counts against it: notices, the echo, the output.
  const kept = log.slice(0, -2).reduce((n, l) => n + Buffer.byteLength(l.text), 0);
  assert.ok(kept <= DEFAULT_LOG_CAP_BYTES && kept + 99 > DEFAULT_LOG_CAP_BYTES, `kept ${kept} bytes, up to the cap`);
  const total = FLOOD_BYTES / 100;
  const notKept = total - step.length;
  assert.match(log.at(-2)!.text, /^log cap reached: .* is kept; later lines are counted, not kept$/);
  assert.match(log.at(-1)!.text, new RegExp(`^log cap reached: ${notKept} lines / ${notKept * 99} bytes \\(.*\\) not kept$`));
  assert.ok(r.slowestHealthMs < 2000, `/health took ${Math.round(r.slowestHealthMs)} ms during the job`);
  assert.ok(r.rssGrowth < 100 * 1024 * 1024, `the runner grew by ${Math.round(r.rssGrowth / 1048576)} MB`);
});
