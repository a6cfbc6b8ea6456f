import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { engineNames, hostEngine, nestor, ROOT } from '../helpers.ts';

/**
 * The runnable fixtures (test/fixtures/runnable) that showed a bug when first run, now fixed:
 * each job's and step's outcome as the file means it, and the lines that show the format's
 * own expansions, artifacts at the root and the job's status reached the steps. The others
 * are run, line by line, in fixtures-run.test.ts.
 */

const host = await hostEngine();

/** Each fixture's outcome: the run's status, and per job its status and its steps'. */
const EXPECTED: Record<string, { status: string; jobs: Record<string, string> }> = {
  "drone-build-status": { status: "failure", jobs: {"default":"failure: test=failure notify=success"} },
  "gitlab-job-status": { status: "failure", jobs: {"test":"failure: test=failure"} },
  "gitlab-root-glob-artifacts": { status: "success", jobs: {"test":"success: test=success","summary":"success: summary=success"} },
  "woodpecker-matrix-substitution": { status: "success", jobs: {"woodpecker (GO_VERSION=1.22)":"success: test=success","woodpecker (GO_VERSION=1.24)":"success: test=success"} },
  "woodpecker-status-variables": { status: "failure", jobs: {"woodpecker":"failure: test=failure notify=success"} },
};

/** Lines a fixture must print: what shows that substitution, artifacts or status reached the step. */
const LINES: Record<string, RegExp[]> = {
  'drone-build-status': [/^build failure, stage failure/],
  'gitlab-job-status': [/^job status is 'failed'$/],
  'gitlab-root-glob-artifacts': [/^<testsuite tests="3" failures="0"\/>$/, /^lines 87\.5%$/],
  'woodpecker-matrix-substitution': [/^testing with go 1\.22$/, /^testing with go 1\.24$/],
  'woodpecker-status-variables': [/^pipeline status is 'failure'/],
};

async function run(name: string): Promise<{ status: string; jobs: Record<string, string>; lines: string[]; raw: string }> {
  const r = await nestor(['run', '--json', '-C', `${ROOT}test/fixtures/runnable/${name}`]);
  const events = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  const result = events.find((e) => e.type === 'result') as { status: string; jobs: { name: string; status: string; steps: { name: string; status: string }[] }[] } | undefined;
  assert.ok(result, `no result:\n${r.stdout}\n${r.stderr}`);
  const jobs = Object.fromEntries(result.jobs.map((j) => [j.name, `${j.status}: ${j.steps.map((s) => `${s.name}=${s.status}`).join(' ')}`]));
  const lines = events.filter((e) => e.type === 'log').map((e) => String(e.text));
  return { status: result.status, jobs, lines, raw: r.stdout + r.stderr };
}

test('at least ten runnable fixtures, of all three kinds of file, are there to run', () => {
  const names = readdirSync(`${ROOT}test/fixtures/runnable`);
  assert.ok(names.length >= 10, names.join(', '));
  assert.deepEqual([...new Set(names.map((n) => n.split('-')[0]))].sort(), ['drone', 'gitlab', 'woodpecker']);
});

for (const [name, want] of Object.entries(EXPECTED)) {
  test(`${name} runs as its file means`, async () => {
    const got = await run(name);
    assert.deepEqual({ status: got.status, jobs: got.jobs }, want, got.raw);
    for (const line of LINES[name] ?? []) assert.ok(got.lines.some((l) => line.test(l)), `${line} in:\n${got.lines.join('\n')}`);
    assert.deepEqual(await engineNames(host), [], 'every job engine is gone');
  });
}
