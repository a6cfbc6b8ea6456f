import { test } from 'node:test';
import assert from 'node:assert/strict';
import { engineNames, hostEngine, nestor, ROOT } from '../helpers.ts';

/**
 * Fixtures of our own, shaped after real teams' GitLab, Drone and Woodpecker files
 * (test/fixtures/runnable), run unchanged on real engines: each job's and step's outcome, as
 * the file means it (allowed failures ignored, failure-only steps skipped, notifications that
 * read the job's status), and lines that show the format's own expansions took place.
 */

const host = await hostEngine();

/** Each fixture's outcome: the run's status, and per job its status and its steps'. */
const EXPECTED: Record<string, { status: string; jobs: Record<string, string> }> = {
  "drone-build-status": { status: "failure", jobs: {"default":"failure: test=failure notify=success"} },
  "drone-docker-socket": { status: "success", jobs: {"image":"success: build=success smoke-test=success no-socket=success"} },
  "drone-multi-pipeline": { status: "success", jobs: {"build":"success: version=success compile=success upload-coverage=ignored executable=success","test":"success: unit=success on-test-failure=skipped","notify":"skipped: ","report":"success: summary=success"} },
  "drone-service-dag": { status: "success", jobs: {"api-tests":"success: wait-for-api=success test-version=success test-missing=success load-test=ignored collect=success debug-dump=skipped cleanup=success"} },
  "gitlab-allow-failure": { status: "success", jobs: {"build":"success: build=success","lint":"success: lint=success","experimental":"success: experimental=ignored","unit":"success: unit=success","notify-failure":"skipped: ","cleanup":"success: cleanup=success"} },
  "gitlab-build-test-deploy": { status: "success", jobs: {"compile":"success: compile=success","docs":"success: docs=success","unit-tests":"success: unit-tests=success","lint":"success: lint=success","package":"success: package=success","deploy-staging":"success: deploy-staging=success","deploy-production":"skipped: deploy-production=skipped","review-app":"skipped: review-app=skipped"} },
  "gitlab-dind-notls": { status: "success", jobs: {"build-image":"success: build-image=success","publish":"success: publish=success"} },
  "gitlab-job-status": { status: "failure", jobs: {"test":"failure: test=failure"} },
  "gitlab-root-glob-artifacts": { status: "success", jobs: {"test":"success: test=success","summary":"success: summary=success"} },
  "gitlab-service-alias": { status: "success", jobs: {"api-test":"success: api-test=success","two-aliases":"success: two-aliases=success"} },
  "gitlab-templates-matrix": { status: "success", jobs: {"versions":"success: versions=success","build:linux":"success: build:linux=success","test: [unit, sqlite]":"success: test: [unit, sqlite]=success","test: [integration, sqlite]":"success: test: [integration, sqlite]=success","test: [e2e, none]":"success: test: [e2e, none]=success","test: [e2e, memory]":"success: test: [e2e, memory]=success","report":"success: report=success"} },
  "woodpecker-matrix-substitution": { status: "success", jobs: {"woodpecker (GO_VERSION=1.22)":"success: test=success","woodpecker (GO_VERSION=1.24)":"success: test=success"} },
  "woodpecker-matrix": { status: "success", jobs: {"woodpecker (IMAGE_REPO=busybox, IMAGE_TAG=latest, FLAVOUR=upstream, COVERAGE=true)":"success: test=success coverage=success","woodpecker (IMAGE_REPO=nestor/base, IMAGE_TAG=busybox, FLAVOUR=local, COVERAGE=false)":"success: test=success coverage=skipped"} },
  "woodpecker-service-status": { status: "success", jobs: {"woodpecker":"success: e2e=success screenshot-upload=ignored artifacts-check=success on-failure=skipped always=success"} },
  "woodpecker-status-variables": { status: "failure", jobs: {"woodpecker":"failure: test=failure notify=success"} },
  "woodpecker-workflows": { status: "success", jobs: {"build":"success: compile=success compile-debug=success","notify":"skipped: ","test":"success: unit=success report-failure=skipped"} },};

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

test('at least ten runnable fixtures of each kind of file are checked', () => {
  const kinds = Object.keys(EXPECTED).map((n) => n.split('-')[0]);
  assert.ok(Object.keys(EXPECTED).length >= 10);
  assert.deepEqual([...new Set(kinds)].sort(), ['drone', 'gitlab', 'woodpecker']);
});

for (const [name, want] of Object.entries(EXPECTED)) {
  test(`${name} runs as its file means`, async () => {
    const got = await run(name);
    assert.deepEqual({ status: got.status, jobs: got.jobs }, want, got.raw);
    for (const line of LINES[name] ?? []) assert.ok(got.lines.some((l) => line.test(l)), `${line} in:\n${got.lines.join('\n')}`);
    assert.deepEqual(await engineNames(host), [], 'every job engine is gone');
  });
}
