// Pipeline files shaped after real teams' GitLab, Drone and Woodpecker files
// (test/fixtures/runnable/*), each run with `nestor run --json` on the real engine, asserting
// what ran, what was skipped, what each step printed and what reached later jobs.
// The last test runs the fixtures that showed bugs (root-level artifact globs, matrix values in
// commands, the job's status in notification steps), fixed since.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { hostEngine, nestor, objectsOf, ROOT } from '../helpers.ts';

const host = await hostEngine();
const SHA = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
const SHORT = SHA.slice(0, 8);

interface Step { name: string; status: string; exitCode?: number; reason?: string }
interface Job { name: string; status: string; notRunBecause?: string; steps: Step[]; engine: string }
interface Log { job: string; source: string; stream: string; text: string }
interface Run { code: number; status: string; jobs: Job[]; logs: Log[]; raw: string }

/** `nestor run --json` on a fixture (on branch main, a push), parsed; its engines must be gone after. */
async function run(fixture: string, args: string[] = []): Promise<Run> {
  const r = await nestor(['run', '--json', '-C', `${ROOT}test/fixtures/runnable/${fixture}`, '--branch', 'main', ...args]);
  const events = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string } & Record<string, unknown>);
  const result = events.find((e) => e.type === 'result') as unknown as { status: string; jobs: Job[] } | undefined;
  const raw = r.stdout + r.stderr;
  assert.ok(result, `no result in the output:\n${raw}`);
  for (const job of result.jobs) if (job.engine) assert.equal(await objectsOf(host, job.engine), 0, `engine ${job.engine} of ${job.name} left something behind`);
  return { code: r.code, status: result.status, jobs: result.jobs, logs: events.filter((e) => e.type === 'log') as unknown as Log[], raw };
}

function job(out: Run, name: string): Job {
  const j = out.jobs.find((x) => x.name === name);
  assert.ok(j, `no job ${name} in ${out.jobs.map((x) => x.name).join(', ')}\n${out.raw}`);
  return j;
}

/** What a job's step (by default the step of the job's own name, as GitLab jobs have) printed on stdout. */
function out(o: Run, jobName: string, step = jobName): string[] {
  return o.logs.filter((l) => l.job === jobName && l.source === step && l.stream === 'stdout' && !l.text.startsWith('+ ')).map((l) => l.text);
}

const jobStatuses = (o: Run) => Object.fromEntries(o.jobs.map((j) => [j.name, j.status]));
const stepStatuses = (j: Job) => Object.fromEntries(j.steps.map((s) => [s.name, s.status]));

function hasLines(lines: string[], expected: (string | RegExp)[], what: string) {
  for (const e of expected) assert.ok(lines.some((l) => (typeof e === 'string' ? l === e : e.test(l))), `${what}: no line ${e} in\n${lines.join('\n')}`);
}

test('GitLab: stages, needs, artifacts with exclude, default before/after_script, rules and only/except', async () => {
  const o = await run('gitlab-build-test-deploy');
  assert.equal(o.code, 0, o.raw);
  assert.equal(o.status, 'success', o.raw);
  assert.deepEqual(jobStatuses(o), {
    compile: 'success', docs: 'success', 'unit-tests': 'success', lint: 'success', package: 'success',
    'deploy-staging': 'success', 'deploy-production': 'skipped', 'review-app': 'skipped',
  });
  assert.match(job(o, 'deploy-production').notRunBecause ?? '', /only/);
  assert.match(job(o, 'review-app').notRunBecause ?? '', /except/);
  for (const name of ['compile', 'docs', 'unit-tests', 'lint', 'package', 'deploy-staging']) {
    hasLines(out(o, name), [`before_script for ${name} on main`, `after_script for ${name}`], name);
  }
  // needs: [compile] brings compile's artifacts, without what exclude left out, and not docs'.
  const unit = out(o, 'unit-tests');
  hasLines(unit, [`hello version 1.0 (${SHORT})`, 'obj excluded', 'debug excluded', 'docs not needed here'], 'unit-tests');
  assert.ok(!unit.some((l) => /^(build\/)?(obj|main\.o|hello\.debug)$/.test(l)), `excluded files listed:\n${unit.join("\n")}`);
  hasLines(out(o, 'lint'), ['lint starts without artifacts'], 'lint');
  // No needs: every earlier stage's artifacts.
  const pkg = out(o, 'package');
  hasLines(pkg, ['docs reached package'], 'package');
  assert.deepEqual(pkg.filter((l) => /^(build|public)\//.test(l)), ['build/', 'build/bin/', 'build/bin/hello', 'public/', 'public/index.html']);
  hasLines(out(o, 'deploy-staging'), ['archive entries 5', 'deploying to staging from main'], 'deploy-staging');
  assert.ok(!o.raw.includes('never on a branch push') && !o.raw.includes('review apps are for other branches'));
});

test('GitLab: hidden jobs, extends, !reference, anchors and parallel: matrix needed by instance', async () => {
  const o = await run('gitlab-templates-matrix');
  assert.equal(o.status, 'success', o.raw);
  const matrix = ['test: [unit, sqlite]', 'test: [integration, sqlite]', 'test: [e2e, none]', 'test: [e2e, memory]'];
  assert.deepEqual(o.jobs.map((j) => j.name).sort(), ['build:linux', 'report', 'versions', ...matrix].sort());
  assert.ok(o.jobs.every((j) => j.status === 'success'), o.raw);
  assert.ok(!o.jobs.some((j) => j.name.startsWith('.')), 'hidden jobs do not run');
  hasLines(out(o, 'build:linux'), ['setup for gcc', 'build on linux at level linux with CFLAGS=-O2 and gcc', 'version 1.2.3', 'cleanup of build:linux'], 'build:linux');
  const suites = matrix.flatMap((name) => {
    hasLines(out(o, name), ['setup for gcc', `cleanup of ${name}`], name);
    return out(o, name).filter((l) => l.startsWith('suite='));
  });
  assert.deepEqual(suites.map((l) => l.replace(/ node=.*/, '')).sort(), [
    'suite=e2e db=memory os=linux', 'suite=e2e db=none os=linux', 'suite=integration db=sqlite os=linux', 'suite=unit db=sqlite os=linux',
  ]);
  assert.deepEqual(suites.map((l) => l.replace(/.* node=/, '')).sort(), ['1/4', '2/4', '3/4', '4/4']);
  // needs on one matrix instance: only its artifacts, with those of `versions`.
  const report = out(o, 'report');
  assert.deepEqual(report.filter((l) => l.endsWith('.txt')), ['e2e-memory.txt'], report.join('\n'));
  hasLines(report, ['e2e-memory passed', 'report for 1.2.3'], 'report');
});

test('GitLab: allow_failure (any code, exit_codes), when: on_failure and when: always', async () => {
  const green = await run('gitlab-allow-failure');
  assert.equal(green.code, 0, green.raw);
  assert.equal(green.status, 'success', green.raw);
  assert.equal(job(green, 'notify-failure').status, 'skipped');
  assert.match(job(green, 'notify-failure').notRunBecause ?? '', /on failure/);
  hasLines(green.logs.filter((l) => l.job === 'lint').map((l) => l.text), ['style warnings found', 'exit code 42 is allowed to fail (allow_failure: exit_codes)'], 'lint');
  assert.notEqual(job(green, 'lint').status, 'failure');
  const experimental = job(green, 'experimental').steps[0]!;
  assert.deepEqual([experimental.status, experimental.exitCode], ['ignored', 3]);
  hasLines(out(green, 'unit'), ['build ok', 'unit tests passed'], 'unit');
  hasLines(out(green, 'cleanup'), [/^cleaning up after \S+$/], 'cleanup');

  // The same file with the build broken: later stages skip, on_failure and always run.
  const red = await run('gitlab-allow-failure', ['-e', 'BREAK_BUILD=yes']);
  assert.notEqual(red.code, 0, red.raw);
  assert.equal(red.status, 'failure');
  assert.deepEqual(jobStatuses(red), { build: 'failure', lint: 'skipped', experimental: 'skipped', unit: 'skipped', 'notify-failure': 'success', cleanup: 'success' });
  hasLines(out(red, 'build'), ['build broken on purpose'], 'build');
  hasLines(out(red, 'notify-failure'), ['pipeline failed on main, notifying'], 'notify-failure');
  assert.ok(!red.raw.includes('style warnings found'));
});

test('GitLab: a busybox httpd service reached by its alias (and by two aliases)', async () => {
  const o = await run('gitlab-service-alias');
  assert.equal(o.status, 'success', o.raw);
  assert.deepEqual(jobStatuses(o), { 'api-test': 'success', 'two-aliases': 'success' });
  hasLines(out(o, 'api-test'), ['pong', '{"status":"green"}', 'missing page answers 404'], 'api-test');
  assert.deepEqual(out(o, 'two-aliases').filter((l) => l === 'cached'), ['cached', 'cached']);
});

test('GitLab: docker:dind with TLS off on tcp://docker:2375, docker build and run, the image as an artifact', async () => {
  const o = await run('gitlab-dind-notls');
  assert.equal(o.status, 'success', o.raw);
  assert.deepEqual(jobStatuses(o), { 'build-image': 'success', publish: 'success' });
  const build = out(o, 'build-image');
  hasLines(build, ['server answers', `Successfully tagged app:${SHORT}`, 'hello from dind', 'built in build-image'], 'build-image');
  // No TLS variables slipped in beside the file's own.
  assert.deepEqual(build.filter((l) => l.startsWith('DOCKER_')), ['DOCKER_DRIVER=overlay2', 'DOCKER_HOST=tcp://docker:2375', 'DOCKER_TLS_CERTDIR=']);
  hasLines(out(o, 'publish'), [`Loaded image: app:${SHORT}`, `app:${SHORT}`, 'hello from dind'], 'publish');
});

test('Drone: pipelines with depends_on, trigger: status failure, ${DRONE_COMMIT_SHA:0:8}, failure: ignore', async () => {
  const green = await run('drone-multi-pipeline');
  assert.equal(green.code, 0, green.raw);
  assert.deepEqual(jobStatuses(green), { build: 'success', test: 'success', notify: 'skipped', report: 'success' });
  assert.deepEqual(stepStatuses(job(green, 'build')), { version: 'success', compile: 'success', 'upload-coverage': 'ignored', executable: 'success' });
  assert.equal(job(green, 'build').steps.find((s) => s.name === 'upload-coverage')!.exitCode, 2);
  hasLines(out(green, 'build', 'version'), [new RegExp(`^building ${SHORT} of \\S+ on main$`), `${SHORT},latest`], 'version');
  hasLines(out(green, 'build', 'compile'), ['compiled with CGO_ENABLED=0'], 'compile');
  hasLines(out(green, 'build', 'executable'), [`app ${SHORT}`, 'step executable of stage build'], 'executable');
  // Substituted in the file before it is read, as Drone does: the command itself holds the SHA.
  assert.ok(green.logs.some((l) => l.source === 'executable' && l.text === `+ VERSION=${SHORT} ./release/linux/amd64/app`), green.raw);
  hasLines(out(green, 'test', 'unit'), ['fresh workspace for pipeline test', 'FAIL_TESTS=no', 'tests passed'], 'unit');
  assert.equal(stepStatuses(job(green, 'test'))['on-test-failure'], 'skipped');
  hasLines(out(green, 'report', 'summary'), [`pipeline report for ${SHORT}`], 'summary');

  const red = await run('drone-multi-pipeline', ['-e', 'FAIL_TESTS=yes']);
  assert.notEqual(red.code, 0, red.raw);
  assert.deepEqual(jobStatuses(red), { build: 'success', test: 'failure', notify: 'success', report: 'success' });
  assert.deepEqual(stepStatuses(job(red, 'test')), { unit: 'failure', 'on-test-failure': 'success' });
  hasLines(out(red, 'test', 'on-test-failure'), ['collecting logs of the failed tests'], 'on-test-failure');
  hasLines(out(red, 'notify', 'slack'), [`build 1 of ${SHORT} failed`], 'slack');
});

test('Drone: the host /var/run/docker.sock volume with docker:27-cli builds and runs an image', async () => {
  const o = await run('drone-docker-socket');
  assert.equal(o.status, 'success', o.raw);
  assert.deepEqual(stepStatuses(job(o, 'image')), { build: 'success', 'smoke-test': 'success', 'no-socket': 'success' });
  hasLines(out(o, 'image', 'build'), ['server linux/amd64', `Successfully tagged example/app:${SHORT}`], 'build');
  const smoke = out(o, 'image', 'smoke-test');
  hasLines(smoke, [`app ${SHORT} says: smoke test`], 'smoke-test');
  assert.deepEqual(smoke.filter((l) => l === SHORT || l === 'latest'), [SHORT, 'latest'].sort());
  hasLines(out(o, 'image', 'no-socket'), ['steps without the volume have no socket'], 'no-socket');
});

test('Drone: a service by name, a depends_on graph, a temp volume, failure: ignore, status conditions', async () => {
  const o = await run('drone-service-dag');
  assert.equal(o.status, 'success', o.raw);
  const j = job(o, 'api-tests');
  assert.deepEqual(stepStatuses(j), {
    'wait-for-api': 'success', 'test-version': 'success', 'test-missing': 'success', 'load-test': 'ignored',
    collect: 'success', 'debug-dump': 'skipped', cleanup: 'success',
  });
  assert.ok(o.logs.some((l) => l.source === 'service:fake-api' && l.text.includes('httpd -f -p 3000')), 'the service logs are shown');
  hasLines(out(o, 'api-tests', 'test-version'), ['{"version":2}'], 'test-version');
  assert.deepEqual(out(o, 'api-tests', 'collect'), ['missing.txt', 'version.json', '404 as expected']);
  hasLines(out(o, 'api-tests', 'cleanup'), ['cleanup for build 1'], 'cleanup');
  assert.ok(!o.raw.includes('dumping service state'));
});

test('Woodpecker: workflows in .woodpecker/ with depends_on and runs_on, anchors merged with <<:', async () => {
  const green = await run('woodpecker-workflows');
  assert.equal(green.code, 0, green.raw);
  assert.deepEqual(jobStatuses(green), { build: 'success', test: 'success', notify: 'skipped' });
  hasLines(out(green, 'build', 'compile'), ['APP=woodie OUT=dist MODE=', `woodie built from ${SHA}`], 'compile');
  hasLines(out(green, 'build', 'compile-debug'), ['APP=woodie-debug OUT=dist MODE=debug', 'the workspace is shared between steps'], 'compile-debug');
  hasLines(out(green, 'test', 'unit'), ['no build output in the test workflow', /^testing \S+ in workflow test$/], 'unit');
  assert.equal(stepStatuses(job(green, 'test'))['report-failure'], 'skipped');

  const red = await run('woodpecker-workflows', ['-e', 'FAIL_UNIT=yes']);
  assert.notEqual(red.code, 0, red.raw);
  assert.deepEqual(jobStatuses(red), { build: 'success', test: 'failure', notify: 'success' });
  assert.deepEqual(stepStatuses(job(red, 'test')), { unit: 'failure', 'report-failure': 'success' });
  hasLines(out(red, 'notify', 'notify'), ['pipeline 1 failed'], 'notify');
});

test('Woodpecker: matrix include, ${VAR} in the image and commands, when: matrix', async () => {
  const o = await run('woodpecker-matrix');
  assert.equal(o.status, 'success', o.raw);
  assert.equal(o.jobs.length, 2, o.raw);
  const upstream = o.jobs.find((j) => j.name.includes('FLAVOUR=upstream'))!;
  const local = o.jobs.find((j) => j.name.includes('FLAVOUR=local'))!;
  assert.ok(upstream && local, o.jobs.map((j) => j.name).join(', '));
  hasLines(out(o, upstream.name, 'test'), ['testing upstream on busybox:latest', 'env says FLAVOUR=upstream COVERAGE=true'], 'upstream');
  hasLines(out(o, local.name, 'test'), ['testing local on nestor/base:busybox', 'env says FLAVOUR=local COVERAGE=false'], 'local');
  assert.deepEqual(stepStatuses(upstream), { test: 'success', coverage: 'success' });
  assert.deepEqual(stepStatuses(local), { test: 'success', coverage: 'skipped' });
  assert.deepEqual(out(o, upstream.name, 'coverage'), ['upstream', 'uploading coverage of upstream']);
});

test('Woodpecker: a service, map and list merges, failure: ignore, status: failure and always steps', async () => {
  const green = await run('woodpecker-service-status');
  assert.equal(green.code, 0, green.raw);
  const j = green.jobs[0]!;
  assert.deepEqual(stepStatuses(j), { e2e: 'success', 'screenshot-upload': 'ignored', 'artifacts-check': 'success', 'on-failure': 'skipped', always: 'success' });
  // The spliced command lists run before and after the step's own commands.
  assert.deepEqual(out(green, j.name, 'e2e'), ['step starts in /woodpecker/src', 'hello-from-backend', 'step done']);
  assert.deepEqual(out(green, j.name, 'artifacts-check'), ['hello-from-backend']);
  hasLines(out(green, j.name, 'always'), [/^finished pipeline 1 of \S+$/], 'always');

  const red = await run('woodpecker-service-status', ['-e', 'BREAK=yes']);
  assert.notEqual(red.code, 0, red.raw);
  const r = red.jobs[0]!;
  assert.deepEqual(stepStatuses(r), { e2e: 'failure', 'screenshot-upload': 'ignored', 'artifacts-check': 'skipped', 'on-failure': 'success', always: 'success' });
  hasLines(out(red, r.name, 'on-failure'), ['something failed in pipeline 1'], 'on-failure');
});

test('fixed since: root-level artifact globs, matrix values in quoted commands, the status in notification steps', async () => {
  const glob = await run('gitlab-root-glob-artifacts');
  assert.equal(glob.status, 'success', glob.raw);
  assert.deepEqual(out(glob, 'summary'), ['<testsuite tests="3" failures="0"/>', 'lines 87.5%']);

  const matrix = await run('woodpecker-matrix-substitution');
  assert.equal(matrix.status, 'success', matrix.raw);
  for (const v of ['1.22', '1.24']) {
    assert.deepEqual(out(matrix, `woodpecker (GO_VERSION=${v})`, 'test'), [`testing with go ${v}`, `coverage goes to coverage_${v}.out`]);
  }

  // Each fails on purpose; the step after the failure sees it.
  const drone = await run('drone-build-status');
  assert.deepEqual(stepStatuses(job(drone, 'default')), { test: 'failure', notify: 'success' });
  hasLines(out(drone, 'default', 'notify'), [/^build failure, stage failure, failed steps/], 'notify');
  const wp = await run('woodpecker-status-variables');
  assert.deepEqual(stepStatuses(wp.jobs[0]!), { test: 'failure', notify: 'success' });
  hasLines(out(wp, wp.jobs[0]!.name, 'notify'), [/^pipeline status is 'failure'/], 'notify');
  const gl = await run('gitlab-job-status');
  assert.equal(job(gl, 'test').status, 'failure');
  hasLines(out(gl, 'test'), ["job status is 'failed'"], 'after_script');
});
