import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planGraph } from './plan-graph.ts';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_RUNNER_IMAGE } from '../config.ts';
import { hostPlatform } from '../platform.ts';
import type { CompileOptions } from './compile.ts';
import type { PipelineNotice } from './errors.ts';
import { documentsOf, failureOf, keyPaths, matches, noticesAt, speaksFor, stepOf, unaccounted } from './fixture-walk.test-helper.ts';
import { JOB_CONTAINER } from './formats/github.ts';
import { jobOutputs, jobRuns, leaveAction, newJobState, prepareStep } from './github/step-runtime.ts';
import { loadPlans } from './load.ts';
import { selectJobs } from './select-jobs.ts';
import type { JobPlan, PlanStep } from './plan.ts';

/**
 * GitHub Actions workflows, read as GitHub reads them: the fixtures of test/fixtures/github,
 * each a tiny repository (its workflows, and the local actions and reusable workflows they
 * name), written after the shapes of public workflows. Every fixture is compiled; what it
 * compiles to is asserted concretely (jobs and their matrix names, needs, images, step kinds,
 * services, notices, triggers, env), and every key it writes must be read or named by a notice.
 */

const FIXTURES = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'github');
// Remote actions come from a forge that is not there: the tests never reach the network.
const opts: CompileOptions = { defaultImage: 'busybox:latest', branch: 'main', event: 'push', includes: { actionsBase: 'file:///nonexistent/nestor-test-forge' } };

const fixture = (name: string, extra: Partial<CompileOptions> = {}): JobPlan[] => loadPlans(join(FIXTURES, name), undefined, { ...opts, ...extra });
const job = (plans: JobPlan[], name: string): JobPlan => {
  const p = plans.find((x) => x.name === name);
  assert.ok(p, `no job ${name} in ${plans.map((x) => x.name).join(', ')}`);
  return p;
};
const step = stepOf;
/** The steps the workflow wrote: a GitHub job's first step is the job container the others run in. */
const written = (p: JobPlan): PlanStep[] => {
  if (p.steps.length === 0) return [];
  assert.equal(p.steps[0]!.name, JOB_CONTAINER);
  return p.steps.slice(1);
};
const kinds = (p: JobPlan) => written(p).map((s) => s.github?.kind);
const codes = (p: JobPlan, severity?: PipelineNotice['severity']) => p.notices.filter((n) => !severity || n.severity === severity).map((n) => n.code);
const noticeAt = (p: JobPlan, key: string, code: string): PipelineNotice => {
  const n = p.notices.find((x) => x.key === key && x.code === code);
  assert.ok(n, `no ${code} at ${key} in ${JSON.stringify(p.notices.map((x) => [x.code, x.key]))}`);
  return n;
};
const runs = (s: PlanStep) => s.notRunBecause === undefined;
const MINUTE = 60_000;

/**
 * What each fixture compiles to: its jobs (plan names, matrix combinations included), the
 * steps the workflow writes over all of them, and its degraded notices' codes in file order;
 * or its problems, each as `line:column: message` (all of them, reported at once).
 */
const EXPECTED: Record<string, { jobs?: string[]; steps?: number; degraded?: string[]; problems?: string[] }> = {
  'node-matrix': { jobs: ['lint', 'test (18.x)', 'test (20.x)', 'test (22.x)'], steps: 4 + 3 * 4, degraded: ['NESTOR_REMOTE_UNREACHABLE', 'NESTOR_REMOTE_UNREACHABLE'] },
  'python-matrix': {
    jobs: ['pytest (ubuntu-22.04, 3.10)', 'pytest (ubuntu-22.04, 3.11, true)', 'pytest (ubuntu-24.04, 3.10)', 'pytest (ubuntu-24.04, 3.11, true)', 'pytest (ubuntu-24.04, 3.12)', 'pytest (ubuntu-24.04, 3.13, true)'],
    steps: 6 * 4,
    degraded: ['NESTOR_REMOTE_UNREACHABLE'],
  },
  'go-race': { jobs: ['test (1.22)', 'test (1.23)', 'golangci'], steps: 5 + 5 + 3, degraded: Array(3).fill('NESTOR_REMOTE_UNREACHABLE') },
  'monorepo-paths': { jobs: ['api', 'web'], steps: 4 + 4 },
  'docker-publish': { jobs: ['image', 'scan'], steps: 6 + 1, degraded: Array(5).fill('NESTOR_REMOTE_UNREACHABLE') },
  'services-db': { jobs: ['integration'], steps: 4 },
  'container-job': { jobs: ['build', 'plain'], steps: 4 + 1, degraded: ['NESTOR_CREDENTIALS_UNUSED'] },
  'composite-action': { jobs: ['check'], steps: 3, degraded: [] },
  'reusable-local': {
    jobs: ['version', 'build / compile', 'build / publish', 'build-all (amd64) / compile', 'build-all (amd64) / publish', 'build-all (arm64) / compile', 'build-all (arm64) / publish', 'report', 'compile', 'publish'],
    steps: 1 + (3 + 1) * 3 + 1 + (3 + 1),
  },
  'if-logic': { jobs: ['build', 'publish', 'notify-failure', 'summary'], steps: 6 + 1 + 1 + 1 },
  'job-outputs': { jobs: ['version', 'package'], steps: 3 + 2 },
  'dispatch-inputs': { jobs: ['deploy'], steps: 3 },
  'schedule-cron': { jobs: ['audit'], steps: 4 },
  'release-tags': { jobs: ['dist', 'release'], steps: 3 + 2, degraded: ['NESTOR_REMOTE_UNREACHABLE'] },
  'defaults-shell': { jobs: ['scripts', 'override'], steps: 4 + 1 },
  permissions: { jobs: ['label', 'locked'], steps: 2 },
  'timeouts-continue': { jobs: ['test (stable, false)', 'test (beta, false)', 'test (nightly, true)'], steps: 3 * 3 },
  artifacts: { jobs: ['build', 'test', 'report'], steps: 3 + 3 + 2 },
  cache: { jobs: ['build'], steps: 6 },
  'docker-step': { jobs: ['lint'], steps: 4 },
  'cross-platform': { jobs: ['build (ubuntu-latest)', 'build (windows-latest)', 'build (macos-14)', 'windows-only'], steps: 2 * 3 + 1, degraded: Array(3).fill('NESTOR_PLATFORM_UNAVAILABLE') },
  'env-levels': { jobs: ['show (lite)', 'show (full)'], steps: 2 * 2 },
  'dynamic-matrix': { jobs: ['plan', 'per-package (20)', 'per-package (22)', 'whole'], steps: 2 + 1 + 1 + 1, degraded: [] },
  // The arm64 job is said to need an arm64 runner only on a host that is not one.
  'runner-labels': { jobs: ['gpu', 'arm', 'grouped'], steps: 3, degraded: hostPlatform() === 'linux/arm64' ? [] : ['NESTOR_PLATFORM_UNAVAILABLE'] },
  'environment-deploy': { jobs: ['staging', 'production'], steps: 2 },
  'events-recorded': { jobs: ['respond', 'on-release'], steps: 2 },
  'docker-cli': { jobs: ['e2e'], steps: 5, degraded: ['NESTOR_DOCKER_BUILDX', 'NESTOR_DOCKER_COMPOSE_V2', 'NESTOR_DOCKER_COMPOSE_V2'] },
  'remote-reusable': { jobs: ['lint', 'test'], steps: 3, degraded: ['NESTOR_REMOTE_UNREACHABLE', 'NESTOR_REMOTE_UNREACHABLE', 'NESTOR_REMOTE_UNREACHABLE'] },
  'multi-workflow': { jobs: ['lint', 'docs'], steps: 2 },
  'invalid-expressions': {
    problems: [
      '9:9: The expression " github.ref == " cannot be read at column 13: it ends after "==", where a value was expected',
      '11:9: The expression "${{ github.sha\\"" cannot be read: `${{` is not closed by `}}`',
      '12:9: The expression " success( " cannot be read at column 9: success( is not closed: ")" is missing at the end',
      '14:9: The expression " toJSON(github.event " cannot be read at column 8: toJSON( is not closed: ")" is missing at the end',
    ],
  },
  'invalid-keys': {
    problems: [
      '6:3: job build has no runs-on: say where it runs (runs-on: ubuntu-latest)',
      '7:5: unknown key "runs_on" in job build (did you mean "runs-on"?)',
      '10:9: unknown key "continue-on-eror" in step 1 (did you mean "continue-on-error"?)',
      '13:5: unknown key "timeout-minute" in job test (did you mean "timeout-minutes"?)',
    ],
  },
  'invalid-structure': {
    problems: [
      '10:9: step 1 has both uses: and run:; a step either runs an action or runs a script: split it into two steps',
      '13:5: job test needs buidl, which is not a job of this workflow (did you mean "build"?)',
      '18:19: job deploy needs package, which is not a job of this workflow',
      '21:9: ./.github/actions/missing: the repository has no .github/actions/missing/action.yml: add the action there, or name the right folder',
    ],
  },
  'invalid-everything': {
    problems: [
      '4:3: "pusj" is not an event GitHub starts workflows on (did you mean "push"?)',
      '14:9: "actions/checkout" names no version: write owner/repo@ref',
      '15:9: The expression " matrix.node + " cannot be read at column 14',
      '16:9: step 3 has neither uses: nor run:: say what it does',
      '18:20: job test needs lint, which is not a job of this workflow',
      '22:9: unknown key "shel" in step 1 (did you mean "shell"?)',
      '24:5: ./.github/workflows/nowhere.yml: the repository has no ./.github/workflows/nowhere.yml',
    ],
  },
};

const names = () => readdirSync(FIXTURES).filter((n) => statSync(join(FIXTURES, n)).isDirectory()).sort();
const compiling = () => Object.keys(EXPECTED).filter((n) => !EXPECTED[n]!.problems);

test('every GitHub fixture compiles to its jobs, steps and degraded notices, or fails with exactly its problems, all at once', () => {
  assert.ok(compiling().length >= 24, `${compiling().length} valid fixtures`);
  assert.ok(Object.keys(EXPECTED).length - compiling().length >= 3, 'at least three invalid fixtures');
  assert.deepEqual(names(), Object.keys(EXPECTED).sort(), 'each fixture folder is expected');
  for (const name of names()) {
    const want = EXPECTED[name]!;
    if (want.problems) {
      const err = failureOf(() => fixture(name));
      const got = err.problems.map((p) => `${p.position.line}:${p.position.column}: ${p.message}`);
      assert.equal(got.length, want.problems.length, `${name}: every problem, each once: ${got.join('\n')}`);
      got.forEach((g, i) => assert.ok(g.startsWith(want.problems![i]!), `${name}: ${g}\n  wanted ${want.problems![i]}`));
      // The message lists them all, each at file:line:column.
      const lines = err.message.split('\n');
      assert.equal(lines.length, want.problems.length, name);
      for (const line of lines) assert.match(line, new RegExp(`${name}/\\.github/workflows/ci\\.yml:\\d+:\\d+: `), name);
      continue;
    }
    const plans = fixture(name);
    assert.deepEqual(plans.map((p) => p.name), want.jobs, name);
    assert.equal(plans.reduce((n, p) => n + written(p).length, 0), want.steps, name);
    // Notices repeat in each matrix combination of a job; said once per place here.
    const degraded = [...new Map(plans.flatMap((p) => p.notices).filter((n) => n.severity === 'degraded').map((n) => [`${n.file}:${n.line}:${n.column}:${n.message}`, n])).values()];
    assert.deepEqual(degraded.map((n) => n.code), want.degraded ?? [], `${name}: ${JSON.stringify(degraded.map((n) => [n.code, n.key]))}`);
    for (const p of plans) {
      // A job that calls a reusable workflow has no steps and no GitHub plan of its own.
      assert.equal(p.github !== undefined, p.steps.length > 0, `${name}: ${p.name} is a GitHub job with steps`);
      for (const s of written(p)) if (s.github && !s.github.uses?.startsWith('docker://')) assert.equal(s.execIn, JOB_CONTAINER, `${name}: ${s.name} runs in the job container`);
    }
  }
});

test('node-matrix: a lint job, then a test job per node-version; setup-node is fetched, so it is said and skipped', () => {
  const plans = fixture('node-matrix');
  const lint = job(plans, 'lint');
  assert.equal(lint.title, 'Lint');
  assert.deepEqual(kinds(lint), ['checkout', 'unavailable', 'run', 'run']);
  assert.deepEqual(written(lint).map((s) => s.github?.run ?? s.github?.uses), ['actions/checkout@v4', 'actions/setup-node@v4', 'npm ci', 'npm run lint']);
  assert.deepEqual(written(lint)[1]!.github?.with, { 'node-version': '22', cache: 'npm' });
  assert.match(noticeAt(lint, 'jobs.lint.steps.1.uses', 'NESTOR_REMOTE_UNREACHABLE').message, /a setup action, fetched from file:\/\/\/nonexistent\/nestor-test-forge\/actions\/setup-node; it could not be .*the job uses the image's own toolchain/);
  assert.equal(noticeAt(lint, 'jobs.lint.steps.0.uses', 'NESTOR_CHECKOUT_NATIVE').severity, 'info');
  for (const [i, version] of ['18.x', '20.x', '22.x'].entries()) {
    const t = job(plans, `test (${version})`);
    assert.equal(t.pipeline, 'test');
    assert.deepEqual(t.needs, ['lint']);
    assert.equal(t.runWhen, 'on_success');
    assert.equal(t.title, `Test on Node ${version}`);
    assert.deepEqual(t.github?.matrix, { 'node-version': version });
    assert.deepEqual(t.github?.strategy, { 'fail-fast': true, 'job-index': i, 'job-total': 3, 'max-parallel': 3 });
    assert.deepEqual(t.images, [DEFAULT_RUNNER_IMAGE]);
    // The step's name is filled now; its with: is left for the run.
    assert.equal(written(t)[1]!.name, `Use Node.js ${version}`);
    assert.deepEqual(written(t)[1]!.github?.with, { 'node-version': '${{ matrix.node-version }}', cache: 'npm', 'cache-dependency-path': 'package-lock.json' });
    assert.deepEqual(written(t)[3]!.github?.env, { CI: 'true' });
  }
  const triggers = lint.github?.triggers;
  assert.deepEqual(triggers?.events, { push: { branches: ['main', 'release/**'], 'paths-ignore': ['**.md'] }, pull_request: { branches: ['main'] } });
  assert.deepEqual(triggers?.schedules, []);
  const ran = (o: Partial<CompileOptions>) => runs(written(fixture('node-matrix', o)[0]!)[0]!);
  assert.equal(ran({ branch: 'release/2.x' }), true);
  assert.equal(ran({ branch: 'feature/x' }), false);
  assert.equal(ran({ changedPaths: ['README.md'] }), false, 'paths-ignore: only Markdown changed');
  assert.equal(ran({ changedPaths: ['README.md', 'src/index.js'] }), true);
  // A pull request's branches: filter is matched against the branch it goes into, not its own.
  assert.equal(ran({ event: 'pull_request', branch: 'topic' }), true, 'from topic into main (the default branch)');
  assert.equal(ran({ event: 'pull_request', branch: 'topic', defaultBranch: 'develop' }), false, 'into develop');
  assert.equal(ran({ event: 'pull_request', branch: 'main', facts: { target: 'release/1' } }), false, 'into release/1, which only push lists');
});

test('python-matrix: exclude removes, include extends matching combinations and adds its own; fail-fast false and max-parallel are kept', () => {
  const plans = fixture('python-matrix');
  assert.deepEqual(plans.map((p) => p.github?.matrix), [
    { os: 'ubuntu-22.04', 'python-version': '3.10' },
    { os: 'ubuntu-22.04', 'python-version': '3.11', coverage: true },
    { os: 'ubuntu-24.04', 'python-version': '3.10' },
    { os: 'ubuntu-24.04', 'python-version': '3.11', coverage: true },
    { os: 'ubuntu-24.04', 'python-version': '3.12' },
    { os: 'ubuntu-24.04', 'python-version': '3.13', 'pre-release': true },
  ]);
  assert.deepEqual(plans.map((p) => p.title), ['py3.10 on ubuntu-22.04', 'py3.11 on ubuntu-22.04', 'py3.10 on ubuntu-24.04', 'py3.11 on ubuntu-24.04', 'py3.12 on ubuntu-24.04', 'py3.13 on ubuntu-24.04']);
  for (const [i, p] of plans.entries()) {
    assert.deepEqual(p.github?.strategy, { 'fail-fast': false, 'job-index': i, 'job-total': 6, 'max-parallel': 4 });
    // runs-on: ${{ matrix.os }} gives Ubuntu labels: the runner image, no runner labels.
    assert.equal(p.steps[0]!.image, DEFAULT_RUNNER_IMAGE);
    assert.equal(p.runnerLabels, undefined);
    assert.deepEqual(kinds(p), ['checkout', 'unavailable', 'run', 'run']);
    assert.equal(p.github?.matrix.os, p.matrix.os);
    assert.match(noticeAt(p, 'jobs.pytest.runs-on', 'NESTOR_RUNS_ON_IMAGE').message, new RegExp(`runs-on ${p.matrix.os}:`));
  }
  const test = written(plans[1]!)[3]!;
  assert.equal(test.name, 'Test');
  assert.deepEqual(test.github?.env, { TOX_ENV: "${{ format('py{0}', matrix.python-version) }}" });
  // At run time the matrix answers the script's and env's expressions.
  const prepared = prepareStep(plans[1]!.github!, test.github!, newJobState('n', {}), {}, plans[1]!.workspace, 4);
  assert.ok(!('skip' in prepared));
  assert.equal(prepared.environment.TOX_ENV, 'py3.11');
  assert.match(prepared.script!, /pytest -q --cov=fixture --cov-report=xml/);
  const plain = prepareStep(plans[0]!.github!, written(plans[0]!)[3]!.github!, newJobState('n', {}), {}, plans[0]!.workspace, 4);
  assert.ok(!('skip' in plain));
  assert.match(plain.script!, /pytest -q \n/);
});

test('go-race: a Go version matrix running go test -race; setup-go is a setup action, golangci-lint a remote one', () => {
  const plans = fixture('go-race');
  for (const go of ['1.22', '1.23']) {
    const t = job(plans, `test (${go})`);
    assert.deepEqual(written(t).map((s) => s.name), ['Run actions/checkout@v4', 'Run actions/setup-go@v5', 'Vet', 'Test', 'Build']);
    assert.deepEqual(kinds(t), ['checkout', 'unavailable', 'run', 'run', 'run']);
    assert.equal(step(t, 'Test').github?.run, 'go test -race -count=1 -coverprofile=coverage.out ./...');
    assert.deepEqual(step(t, 'Build').github?.env, { CGO_ENABLED: '0' }, 'a number in env is its text');
    assert.match(step(t, 'Run actions/setup-go@v5').github?.unavailable ?? '', /actions\/setup-go@v5 could not be fetched/);
  }
  const lint = job(plans, 'golangci');
  assert.deepEqual(kinds(lint), ['checkout', 'unavailable', 'unavailable']);
  assert.deepEqual(written(lint)[2]!.github?.with, { version: 'v1.60', args: '--timeout=5m' });
  const remote = noticeAt(lint, 'jobs.golangci.steps.2.uses', 'NESTOR_REMOTE_UNREACHABLE');
  assert.doesNotMatch(remote.message, /setup action/);
  assert.equal(remote.line, 42);
  // The workflow's permissions are said once, with its first job; a job's own with that job.
  assert.equal(noticeAt(plans[0]!, 'permissions', 'NESTOR_PERMISSIONS_RECORDED').severity, 'info');
  assert.equal(noticeAt(lint, 'jobs.golangci.permissions', 'NESTOR_PERMISSIONS_RECORDED').line, 34);
  assert.ok(!codes(plans[1]!).includes('NESTOR_PERMISSIONS_RECORDED'));
});

test('monorepo-paths: paths filters with a negation decide the run; the workflow concurrency group belongs to each job; each package job works in its folder', () => {
  const plans = fixture('monorepo-paths');
  const [api, web] = plans;
  assert.deepEqual(api!.github?.defaults, { workingDirectory: 'packages/api' });
  assert.deepEqual(web!.github?.defaults, { workingDirectory: 'packages/web' });
  assert.equal(step(web!, 'Root-level check').github?.workingDirectory, '.');
  const state = newJobState('n', {});
  const dirOf = (p: JobPlan, i: number) => {
    const prepared = prepareStep(p.github!, written(p)[i]!.github!, state, {}, p.workspace, i + 1);
    assert.ok(!('skip' in prepared));
    return prepared.workingDir;
  };
  assert.equal(dirOf(api!, 1), '/github/workspace/packages/api');
  assert.equal(dirOf(web!, 3), '/github/workspace', "the step's own working-directory wins over the job's default");
  assert.equal(noticeAt(api!, 'concurrency', 'NESTOR_CONCURRENCY_RECORDED').line, 15);
  // The workflow's group, filled from the run's facts, is every job's, for a server to hold runs by.
  for (const p of plans) assert.deepEqual(p.concurrency, { group: 'Packages-refs/heads/main', cancelInProgress: true });
  assert.equal(noticeAt(web!, 'jobs.web.concurrency', 'NESTOR_CONCURRENCY_RECORDED').severity, 'info');
  assert.deepEqual(fixture('monorepo-paths', { branch: 'dev' })[0]!.concurrency, { group: 'Packages-refs/heads/dev', cancelInProgress: true });
  assert.deepEqual(api!.github?.triggers?.events.push, { branches: ['main'], paths: ['packages/api/**', 'packages/web/**', '!packages/**/README.md'] });
  const ran = (o: Partial<CompileOptions>) => runs(written(fixture('monorepo-paths', o)[0]!)[0]!);
  assert.equal(ran({ changedPaths: ['packages/api/src/server.ts'] }), true);
  assert.equal(ran({ changedPaths: ['docs/index.md'] }), false);
  assert.equal(ran({ changedPaths: ['packages/api/README.md'] }), false, '!pattern in paths excludes');
  assert.equal(ran({ branch: 'dev', changedPaths: ['packages/web/a.ts'] }), false, 'push only on main');
  assert.equal(ran({ event: 'pull_request', branch: 'dev', changedPaths: ['.github/workflows/packages.yml'] }), true);
  assert.equal(ran({ event: 'pull_request', branch: 'dev', changedPaths: ['tools/x.sh'] }), false);
});

test('docker-publish: login, metadata and build-push are remote, said and skipped; the job outputs their results to the job that needs it', () => {
  const plans = fixture('docker-publish');
  const image = job(plans, 'image');
  assert.deepEqual(kinds(image), ['checkout', 'unavailable', 'unavailable', 'unavailable', 'unavailable', 'unavailable']);
  assert.deepEqual(written(image).map((s) => s.github?.id), ['__0', '__1', '__2', '__3', 'meta', 'push']);
  assert.deepEqual(
    image.notices.filter((n) => n.code === 'NESTOR_REMOTE_UNREACHABLE').map((n) => n.key),
    [1, 2, 3, 4, 5].map((i) => `jobs.image.steps.${i}.uses`),
  );
  const push = step(image, 'Build and push');
  assert.equal(push.github?.uses, 'docker/build-push-action@v6');
  assert.equal(push.github?.with.tags, '${{ steps.meta.outputs.tags }}');
  assert.equal(push.github?.with.push, "${{ github.event_name != 'pull_request' }}");
  assert.equal(step(image, 'Extract metadata').github?.with.tags, 'type=ref,event=branch\ntype=semver,pattern={{version}}\ntype=sha\n');
  assert.equal(step(image, 'Log in to the registry').github?.if, "github.event_name != 'pull_request'");
  assert.ok(runs(step(image, 'Log in to the registry')), 'on push the login step is for the run');
  assert.deepEqual(image.github?.env, { REGISTRY: 'ghcr.io', IMAGE_NAME: '${{ github.repository }}' });
  assert.deepEqual(image.github?.outputs, { digest: '${{ steps.push.outputs.digest }}', tags: '${{ steps.meta.outputs.tags }}' });
  assert.equal(noticeAt(image, 'jobs.image.permissions', 'NESTOR_PERMISSIONS_RECORDED').severity, 'info');
  // What the job outputs once its steps have given outputs, and the next job reads.
  const state = newJobState('n', {});
  state.steps.push = { outputs: { digest: 'sha256:0123' }, outcome: 'success', conclusion: 'success' };
  state.steps.meta = { outputs: { tags: 'ghcr.io/nestor/project:main' }, outcome: 'success', conclusion: 'success' };
  const outputs = jobOutputs(image.github!, state);
  assert.deepEqual(outputs, { digest: 'sha256:0123', tags: 'ghcr.io/nestor/project:main' });
  const scan = job(plans, 'scan');
  assert.deepEqual(scan.needs, ['image']);
  assert.equal(scan.github?.if, "github.event_name != 'pull_request'");
  const show = written(scan)[0]!;
  const prepared = prepareStep(scan.github!, show.github!, newJobState('n', {}, { image: { result: 'success', outputs } }), {}, scan.workspace, 1);
  assert.ok(!('skip' in prepared));
  assert.match(prepared.script!, /echo "pushed sha256:0123"/);
  assert.equal(prepared.environment.TAGS, 'ghcr.io/nestor/project:main');
  assert.equal(prepared.environment.IMAGE_NAME, 'nestor/project');
  // On a pull request the login step and the whole scan job are answered now: not run.
  const pr = fixture('docker-publish', { event: 'pull_request', branch: 'topic' });
  assert.match(step(job(pr, 'image'), 'Log in to the registry').notRunBecause ?? '', /its if: github\.event_name != 'pull_request' is false/);
  assert.ok(job(pr, 'scan').steps.every((s) => /the job's if: .* is false/.test(s.notRunBecause ?? '')));
});

test('services-db: Postgres and Redis services with their ports and env; each is ready when its --health-cmd passes', () => {
  const [p] = fixture('services-db');
  assert.deepEqual(p!.services.map((s) => [s.name, s.image, s.ports, s.aliases]), [
    ['postgres', 'postgres:16-alpine', [5432], ['postgres']],
    ['redis', 'redis:7', [6379], ['redis']],
  ]);
  const [pg, redis] = p!.services;
  assert.equal(pg!.environment.POSTGRES_USER, 'app');
  assert.equal(pg!.environment.POSTGRES_PASSWORD, 'secret');
  assert.equal(pg!.environment.POSTGRES_DB, 'app_test');
  assert.equal(pg!.engine.client, false);
  assert.equal(pg!.readyCommand, 'pg_isready -U app', 'the quoted --health-cmd of a folded options: >- block');
  assert.equal(redis!.readyCommand, 'redis-cli ping');
  assert.deepEqual(p!.images, ['postgres:16-alpine', 'redis:7', DEFAULT_RUNNER_IMAGE]);
  assert.deepEqual(p!.github?.env, { DATABASE_URL: 'postgres://app:secret@localhost:5432/app_test', REDIS_URL: 'redis://localhost:6379/0' });
  assert.deepEqual(p!.notices.filter((n) => n.code === 'NESTOR_HEALTH_CMD').map((n) => [n.key, n.severity]), [
    ['jobs.integration.services.postgres.options', 'info'],
    ['jobs.integration.services.redis.options', 'info'],
  ]);
  assert.ok(!codes(p!).includes('NESTOR_SERVICE_PORT'), 'HOST:CONTAINER with the same port needs no word');
  assert.deepEqual(written(p!).map((s) => s.name), ['Run actions/checkout@v4', 'Wait for the database', 'Migrate', 'Ping redis']);
});

test('container-job: the steps run in the job container with its env, user and volume; credentials are said; a remapped service port is forwarded', () => {
  const plans = fixture('container-job');
  const build = job(plans, 'build');
  const box = build.steps[0]!;
  assert.equal(box.image, 'ghcr.io/example-org/build-env:2024.06');
  assert.equal(box.detach, true);
  assert.equal(box.user, '1001', '--user from options');
  assert.equal(box.environment.CC, 'clang');
  assert.equal(box.environment.CXX, 'clang++');
  assert.equal(box.environment.LANG, 'C.UTF-8', '--env from options');
  assert.ok(box.mounts.some((m) => m.kind === 'volume' && m.name === 'build-cache' && m.target === '/root/.cache'));
  assert.deepEqual(build.volumes, ['build-cache', 'github-file-commands'], 'the file commands are a volume of the job, for steps in containers of their own');
  assert.equal(build.github?.inContainer, true);
  assert.ok(build.images.includes('ghcr.io/example-org/build-env:2024.06') && build.images.includes('nginx:1.27-alpine'));
  const web = build.services.find((s) => s.name === 'web');
  assert.deepEqual([web?.image, web?.ports, web?.aliases], ['nginx:1.27-alpine', [80], ['web']]);
  // 8080:80: localhost:8080 answers too, through a forwarder to web:80.
  const forwarder = build.services.find((s) => s.name !== 'web');
  assert.deepEqual(forwarder?.ports, [8080]);
  assert.match(forwarder?.commands?.join('\n') ?? '', /nc .*8080.* web 80/);
  assert.equal(noticeAt(build, 'jobs.build.container.credentials', 'NESTOR_CREDENTIALS_UNUSED').severity, 'degraded');
  assert.equal(noticeAt(build, 'jobs.build.container.options', 'NESTOR_LIMITS_OWN').severity, 'info');
  const port = noticeAt(build, 'jobs.build.services.web.ports.0', 'NESTOR_SERVICE_PORT');
  assert.match(port.message, /port 8080:80 is reached at localhost:8080/);
  assert.deepEqual([port.line, port.column, port.severity], [25, 13, 'info']);
  const plain = job(plans, 'plain');
  assert.equal(plain.steps[0]!.image, 'debian:bookworm-slim', 'container: IMAGE as a string');
  assert.deepEqual(plain.images, ['debian:bookworm-slim']);
  assert.equal(plain.github?.inContainer, true);
  assert.equal(plain.steps[0]!.user, undefined);
});

test('composite-action: a local composite action\'s steps become the job\'s, with its inputs, defaults and outputs', () => {
  const [p] = fixture('composite-action');
  assert.deepEqual(kinds(p!), ['checkout', 'run', 'run']);
  const inner = step(p!, 'Toolchain > Run echo "installing ${{ inputs.version }}"');
  assert.equal(inner.github?.id, 'toolchain/install');
  assert.equal(inner.execIn, 'job-container');
  assert.deepEqual(inner.github?.action && { caller: inner.github.action.caller, with: inner.github.action.with, defaults: inner.github.action.defaults, outputs: inner.github.action.outputs, last: inner.github.action.last }, {
    caller: 'toolchain',
    with: { version: '1.5.0' },
    defaults: { version: '1.4.2' },
    outputs: { path: '${{ steps.install.outputs.path }}' },
    last: true,
  });
  assert.match(noticeAt(p!, 'jobs.check.steps.1.uses', 'NESTOR_ACTION_COMPOSITE').message, /its 1 step run in the job container/);
  // As it runs: the inputs are the caller's with: over the defaults, the action's steps see their own ids, the caller gets the outputs.
  const state = newJobState('n', {});
  const ready = prepareStep(p!.github!, inner.github!, state, {}, p!.workspace, 2);
  assert.ok('script' in ready && ready.script!.includes('echo "installing 1.5.0"'), JSON.stringify(ready));
  assert.equal('environment' in ready && ready.environment.GITHUB_ACTION_PATH, '/github/workspace/.github/actions/setup-toolchain');
  state.steps['toolchain/install'] = { outputs: { path: '/opt/toolchain/1.5.0' }, outcome: 'success', conclusion: 'success' };
  leaveAction(p!.github!, inner.github!.action!, state);
  assert.deepEqual(state.steps.toolchain, { outputs: { path: '/opt/toolchain/1.5.0' }, outcome: 'success', conclusion: 'success' });
  const last = p!.steps.at(-1)!;
  const after = prepareStep(p!.github!, last.github!, state, {}, p!.workspace, 3);
  assert.ok('script' in after && after.script!.includes('echo "toolchain at /opt/toolchain/1.5.0"'));
});

test('reusable-local: a job calling a reusable workflow runs its jobs as CALLER / JOB, with the caller\'s with:, secrets:, needs and if:', () => {
  const plans = fixture('reusable-local');
  const compile = job(plans, 'build / compile');
  const publish = job(plans, 'build / publish');
  // A called job is compiled against its own file: what is said of it is at its place there.
  const checkout = noticeAt(compile, 'jobs.compile.steps.0.uses', 'NESTOR_CHECKOUT_NATIVE');
  assert.match(`${checkout.file}:${checkout.line}`, /reusable-local\/\.github\/workflows\/reusable-build\.yml:34$/);
  assert.equal(compile.pipeline, 'build / compile');
  assert.equal(compile.github?.jobId, 'compile');
  assert.equal(compile.github?.workflow, 'CI', "github.workflow is the caller's");
  assert.deepEqual(kinds(compile), ['checkout', 'run', 'run']);
  assert.equal(compile.steps[1]!.environment.GITHUB_JOB, 'compile');
  // The caller's needs are those of the called workflow's first jobs; the others wait for their own,
  // and for the caller's too where they read them as they run (the caller's if:, a late input).
  assert.deepEqual([compile.needs, compile.github?.needs, compile.runWhen], [['version'], [], 'on_success']);
  assert.deepEqual([publish.needs, publish.github?.needs], [['build / compile', 'version'], ['compile']]);
  // with: over the caller's github (known now) and needs (left for the run), typed as declared.
  assert.deepEqual(compile.github?.inputs, { target: 'server', release: true, jobs: 2 });
  const call = compile.github!.call!;
  assert.deepEqual(call.late, { version: { template: '${{ needs.version.outputs.number }}', type: 'string' } });
  assert.deepEqual({ job: call.job, caller: call.caller, if: call.if, needs: call.needs, secrets: call.secrets, outputs: call.outputs }, {
    job: 'build',
    caller: 'build',
    if: "needs.version.outputs.number != ''",
    needs: ['version'],
    secrets: { 'registry-token': '${{ secrets.REGISTRY_TOKEN }}' },
    outputs: { artifact: '${{ jobs.compile.outputs.artifact }}' },
  });
  // inputs.release is known now: publish runs for build, and is left out of build-all.
  assert.equal(publish.github?.if, 'inputs.release');
  assert.ok(written(publish).every(runs));
  assert.deepEqual(publish.github?.env, { TOKEN: '${{ secrets.registry-token }}' });

  // A caller with a matrix calls once per combination, named by its values; its if: is answered now.
  for (const arch of ['amd64', 'arm64']) {
    const c = job(plans, `build-all (${arch}) / compile`);
    assert.equal(c.title, `Build all (${arch}) / compile`);
    assert.deepEqual(c.github?.inputs, { target: `all-${arch}`, release: false, jobs: 2, version: 'dev' });
    const { job: caller, caller: instance, if: callerIf, secrets, matrix } = c.github!.call!;
    assert.deepEqual({ caller, instance, callerIf, secrets, matrix }, { caller: 'build-all', instance: `build-all (${arch})`, callerIf: undefined, secrets: 'inherit', matrix: { arch } });
    assert.equal(c.needs, undefined);
    assert.ok(job(plans, `build-all (${arch}) / publish`).steps.every((s) => s.notRunBecause === "the job's if: inputs.release is false"));
  }
  // A job that needs a caller waits for every job the caller runs; needs.build is read from the call (runner/run-plans).
  const report = job(plans, 'report');
  assert.deepEqual(report.github?.needs, ['build', 'build-all']);
  assert.deepEqual(report.needs, ['build / compile', 'build / publish', 'build-all (amd64) / compile', 'build-all (amd64) / publish', 'build-all (arm64) / compile', 'build-all (arm64) / publish']);

  // At run time: the caller's if: over its needs, the late input, the secret under the called workflow's name.
  const needs = { version: { result: 'success' as const, outputs: { number: '1.2.3' } }, 'build / compile': { result: 'success' as const, outputs: { artifact: 'dist/server.tar.gz' } } };
  assert.equal(jobRuns(publish.github!, needs, {}), true);
  assert.equal(jobRuns(publish.github!, { ...needs, version: { result: 'success', outputs: { number: '' } } }, {}), false, "the caller's if: is false");
  const state = newJobState('n', { REGISTRY_TOKEN: 's3cr3t' }, needs);
  const echo = prepareStep(publish.github!, written(publish)[0]!.github!, state, {}, publish.workspace, 1);
  assert.ok('script' in echo && echo.script!.includes('echo "publishing dist/server.tar.gz as 1.2.3"'), JSON.stringify(echo));
  assert.equal('environment' in echo && echo.environment.TOKEN, 's3cr3t');
  const out = newJobState('n', {});
  out.steps.out = { outputs: { file: 'dist/server.tar.gz' }, outcome: 'success', conclusion: 'success' };
  assert.deepEqual(jobOutputs(compile.github!, out), { artifact: 'dist/server.tar.gz' });

  // The reusable file is also read on its own, with its inputs, secrets and outputs: only a caller starts it.
  const alone = job(plans, 'compile');
  assert.equal(alone.github?.workflow, 'Reusable build');
  assert.deepEqual(alone.github?.triggers?.call, {
    inputs: { target: { description: 'What to build', type: 'string', required: true }, release: { type: 'boolean', default: false }, jobs: { type: 'number', default: 2 }, version: { type: 'string', default: 'dev' } },
    secrets: { 'registry-token': { required: true }, 'signing-key': null },
    outputs: { artifact: { description: 'The built file', value: '${{ jobs.compile.outputs.artifact }}' } },
  });
  assert.deepEqual(alone.github?.inputs, { target: '', release: false, jobs: 2, version: 'dev' });
  assert.ok(alone.steps.every((s) => /event push does not match workflow_call/.test(s.notRunBecause ?? '')));
  assert.deepEqual(alone.images, []);
  // A called job runs on the calling workflow's triggers.
  assert.deepEqual(compile.github?.triggers?.events, { push: { branches: ['main'] } });
  // --job build runs every job the caller runs, and what they wait for.
  assert.deepEqual(selectJobs(plans, ['build']).map((p) => p.name), ['version', 'build / compile', 'build / publish']);
});

test('if-logic: if: over the event and the ref is answered now; over the job status and needs, left to the run', () => {
  const plans = fixture('if-logic');
  const build = job(plans, 'build');
  assert.equal(build.github?.if, "!contains(github.event.head_commit.message, '[skip]')");
  assert.ok(runs(written(build)[0]!));
  assert.deepEqual(written(build).map((s) => [s.name, s.github?.if, runs(s), s.runOn]), [
    ['Run make', undefined, true, ['success']],
    ['Only on pull requests', "github.event_name == 'pull_request'", false, ['success']],
    ['Only on tags', "startsWith(github.ref, 'refs/tags/')", false, ['success']],
    ['Collect logs', 'always()', true, ['success', 'failure']],
    ['Explain the failure', 'failure()', true, ['success', 'failure']],
    ['Not when cancelled', 'success() || failure()', true, ['success', 'failure']],
  ]);
  assert.match(step(build, 'Only on tags').notRunBecause ?? '', /its if: startsWith\(github\.ref, 'refs\/tags\/'\) is false/);
  assert.ok(job(plans, 'publish').steps.every((s) => /the job's if: .* is false/.test(s.notRunBecause ?? '')), 'a branch push publishes nothing');
  assert.deepEqual([job(plans, 'notify-failure').runWhen, job(plans, 'summary').runWhen, job(plans, 'publish').runWhen], ['on_failure', 'always', 'on_success']);
  // A commit message with [skip] skips the build job.
  const skipped = job(fixture('if-logic', { facts: { message: 'wip [skip]' } }), 'build');
  assert.ok(skipped.steps.every((s) => /the job's if: .* is false/.test(s.notRunBecause ?? '')));
  // A tag push runs the tag step and the publish job.
  const tag = fixture('if-logic', { event: 'tag', tag: 'v1.0.0', branch: undefined });
  assert.ok(runs(step(job(tag, 'build'), 'Only on tags')));
  assert.ok(job(tag, 'publish').steps.every(runs));
  // needs.X.result, as the run gives it.
  const notify = job(plans, 'notify-failure').github!;
  assert.equal(jobRuns(notify, { build: { result: 'failure', outputs: {} }, publish: { result: 'skipped', outputs: {} } }, {}), true);
  assert.equal(jobRuns(notify, { build: { result: 'success', outputs: {} }, publish: { result: 'failure', outputs: {} } }, {}), false);
  const summary = job(plans, 'summary').github!;
  assert.equal(jobRuns(summary, { build: { result: 'failure', outputs: {} }, publish: { result: 'skipped', outputs: {} } }, {}), false);
  assert.equal(jobRuns(summary, { build: { result: 'success', outputs: {} }, publish: { result: 'failure', outputs: {} } }, {}), true);
});

test('job-outputs: a step writes $GITHUB_OUTPUT, the job outputs it, the job that needs it reads needs.version.outputs', () => {
  const plans = fixture('job-outputs');
  const version = job(plans, 'version');
  assert.deepEqual(version.github?.outputs, { version: '${{ steps.read.outputs.version }}', prerelease: '${{ steps.read.outputs.prerelease }}' });
  assert.deepEqual(written(version).map((s) => s.github?.id), ['__0', 'read', '__2']);
  assert.match(step(version, 'Read version').github?.run ?? '', /echo "version=\$v" >> "\$GITHUB_OUTPUT"/);
  const state = newJobState('n', {});
  state.steps.read = { outputs: { version: '1.2.3', prerelease: 'false' }, outcome: 'success', conclusion: 'success' };
  const echo = prepareStep(version.github!, step(version, 'Echo it').github!, state, {}, version.workspace, 3);
  assert.ok(!('skip' in echo));
  assert.match(echo.script!, /echo "1\.2\.3"/);
  const outputs = jobOutputs(version.github!, state);
  assert.deepEqual(outputs, { version: '1.2.3', prerelease: 'false' });
  const pkg = job(plans, 'package');
  assert.deepEqual(pkg.needs, ['version']);
  assert.deepEqual(pkg.github?.env, { VERSION: '${{ needs.version.outputs.version }}' });
  const needs = { version: { result: 'success' as const, outputs } };
  const first = prepareStep(pkg.github!, written(pkg)[0]!.github!, newJobState('n', {}, needs), {}, pkg.workspace, 1);
  assert.ok(!('skip' in first));
  assert.equal(first.environment.VERSION, '1.2.3');
  assert.equal(written(pkg)[1]!.github?.if, "needs.version.outputs.prerelease == 'true'");
  assert.ok(runs(written(pkg)[1]!), 'an if: over needs is left to the run');
  assert.deepEqual(prepareStep(pkg.github!, written(pkg)[1]!.github!, newJobState('n', {}, needs), {}, pkg.workspace, 2), { skip: "its if: needs.version.outputs.prerelease == 'true' is false" });
});

test('dispatch-inputs: typed workflow_dispatch inputs are recorded with their defaults and answer if: now', () => {
  const [push] = fixture('dispatch-inputs');
  assert.ok(push!.steps.every((s) => /event push does not match manual, workflow_dispatch/.test(s.notRunBecause ?? '')));
  assert.deepEqual(push!.github?.triggers?.dispatchInputs, {
    environment: { description: 'Where to deploy', type: 'choice', options: ['staging', 'production'], default: 'staging', required: true },
    'dry-run': { description: 'Only print what would happen', type: 'boolean', default: true },
    replicas: { description: 'How many replicas', type: 'number', default: 3 },
    note: { description: 'Free text', type: 'string', required: false },
  });
  assert.deepEqual(push!.github?.inputs, { environment: 'staging', 'dry-run': true, replicas: 3, note: '' });
  assert.equal(noticeAt(push!, 'jobs.deploy.environment', 'NESTOR_ENVIRONMENT_RECORDED').severity, 'info');
  const [given] = fixture('dispatch-inputs', { event: 'manual', env: { environment: 'production', 'dry-run': 'false', replicas: '5' } });
  assert.deepEqual(given!.github?.inputs, { environment: 'production', 'dry-run': false, replicas: 5, note: '' }, 'a manual run\'s variables are its inputs, typed as declared');
  assert.deepEqual(written(given!).map((s) => [s.name, runs(s)]).slice(1), [['Apply', true], ['Dry run', false]]);
  const [manual] = fixture('dispatch-inputs', { event: 'workflow_dispatch' });
  assert.deepEqual(written(manual!).map((s) => [s.name, runs(s)]), [
    // An unnamed step is named after its script's first line, up to 60 characters.
    ['Run echo "deploying to ${{ inputs.environment }} with ${{ inputs', true],
    ['Apply', false],
    ['Dry run', true],
  ]);
  assert.match(step(manual!, 'Apply').notRunBecause ?? '', /its if: !inputs\.dry-run is false/);
  const first = prepareStep(manual!.github!, written(manual!)[0]!.github!, newJobState('n', {}), {}, manual!.workspace, 1);
  assert.ok(!('skip' in first));
  assert.match(first.script!, /deploying to staging with 3 replicas/);
  assert.ok(runs(written(fixture('dispatch-inputs', { event: 'manual' })[0]!)[0]!), "Nestor's manual event is workflow_dispatch");
});

test('schedule-cron: the cron lines are recorded; the workflow runs for a cron or a manual run, not a push; timeout-minutes bounds every step', () => {
  const [push] = fixture('schedule-cron');
  assert.deepEqual(push!.github?.triggers?.schedules, ['17 3 * * *', '0 12 * * 1-5']);
  assert.deepEqual(Object.keys(push!.github?.triggers?.events ?? {}), ['schedule', 'workflow_dispatch']);
  assert.ok(push!.steps.every((s) => s.notRunBecause !== undefined));
  const [cron] = fixture('schedule-cron', { event: 'cron' });
  assert.ok(runs(step(cron!, 'Only when scheduled')));
  assert.equal(cron!.steps[1]!.environment.GITHUB_EVENT_NAME, 'schedule');
  for (const s of written(cron!)) assert.equal(s.timeoutMs, 30 * MINUTE);
  const [manual] = fixture('schedule-cron', { event: 'workflow_dispatch' });
  assert.ok(runs(step(manual!, 'Run npm audit --audit-level=high')));
  assert.ok(!runs(step(manual!, 'Only when scheduled')));
});

test('release-tags: a tag push builds, uploads dist and releases it; a branch push does not run', () => {
  const rc = fixture('release-tags', { event: 'tag', tag: 'v2.0.0-rc1', branch: undefined });
  const dist = job(rc, 'dist');
  const release = job(rc, 'release');
  assert.ok([...dist.steps, ...release.steps].every(runs));
  assert.deepEqual(kinds(dist), ['checkout', 'run', 'upload-artifact']);
  assert.deepEqual(kinds(release), ['download-artifact', 'unavailable']);
  assert.deepEqual(written(dist)[0]!.github?.with, { 'fetch-depth': '0' });
  assert.deepEqual(written(dist)[2]!.github?.with, { name: 'dist', path: 'dist/', 'if-no-files-found': 'error' });
  assert.deepEqual(dist.artifacts, { paths: ['.nestor-artifacts/'], exclude: [], when: 'always', expireInMs: null });
  assert.deepEqual(release.artifactsFrom, ['dist']);
  assert.deepEqual(release.needs, ['dist']);
  assert.equal(release.github?.if, "startsWith(github.ref, 'refs/tags/v')");
  assert.equal(dist.steps[1]!.environment.GITHUB_REF, 'refs/tags/v2.0.0-rc1');
  assert.equal(dist.steps[1]!.environment.GITHUB_REF_TYPE, 'tag');
  assert.match(noticeAt(release, 'jobs.release.steps.1.uses', 'NESTOR_REMOTE_UNREACHABLE').message, /softprops\/action-gh-release@v2/);
  assert.deepEqual(dist.github?.triggers?.events, { push: { tags: ['v[0-9]+.[0-9]+.[0-9]+', 'v*-rc*'] } });
  assert.equal(noticeAt(dist, 'permissions', 'NESTOR_PERMISSIONS_RECORDED').line, 9);
  const branch = fixture('release-tags');
  assert.ok(branch.flatMap((p) => p.steps).every((s) => s.notRunBecause !== undefined), 'tags only: a branch push does not start it');
  const tagged = (tag: string) => fixture('release-tags', { event: 'tag', tag, branch: undefined }).flatMap((p) => p.steps).every(runs);
  assert.equal(tagged('v1.2.3'), true, "GitHub's + is one or more of the character before it");
  assert.equal(tagged('v10.20.30'), true);
  assert.equal(tagged('v1.2'), false);
  assert.equal(tagged('vx.2.3'), false);
});

test('defaults-shell: defaults.run of the workflow and the job; shell: python, a custom bash -e {0} and sh', () => {
  const plans = fixture('defaults-shell');
  const scripts = job(plans, 'scripts');
  assert.deepEqual(scripts.github?.defaults, { shell: 'bash', workingDirectory: 'tools' });
  assert.deepEqual(written(scripts).map((s) => [s.name, s.github?.shell, s.github?.workingDirectory]), [
    ['Default bash in tools/', undefined, undefined],
    ['Python inline', 'python', undefined],
    ['Strict bash', 'bash -e {0}', undefined],
    ['POSIX sh elsewhere', 'sh', 'scripts'],
  ]);
  const prepared = written(scripts).map((s, i) => {
    const p = prepareStep(scripts.github!, s.github!, newJobState('n', {}), {}, scripts.workspace, i + 1);
    assert.ok(!('skip' in p));
    return p;
  });
  assert.deepEqual(prepared.map((p) => p.workingDir), ['/github/workspace/tools', '/github/workspace/tools', '/github/workspace/tools', '/github/workspace/scripts']);
  assert.match(prepared[0]!.script!, /bash --noprofile --norc -eo pipefail '[^']*step_1\.sh'/);
  assert.match(prepared[1]!.script!, /python3 '[^']*step_2\.py'/);
  assert.match(prepared[1]!.script!, /import platform\nprint\(platform\.python_version\(\)\)/);
  assert.match(prepared[2]!.script!, /\(bash -e '[^']*step_3\.sh'\)/);
  assert.match(prepared[3]!.script!, /\(sh -e '[^']*step_4\.sh'\)/);
  const override = job(plans, 'override');
  assert.deepEqual(override.github?.defaults, { shell: 'sh', workingDirectory: 'scripts' });
});

test('permissions: read-all and per-job maps (and none at all) are recorded; pull_request_target and issues are the events', () => {
  const plans = fixture('permissions');
  const [label, locked] = plans;
  assert.deepEqual(label!.notices.filter((n) => n.code === 'NESTOR_PERMISSIONS_RECORDED').map((n) => [n.key, n.line]), [['permissions', 9], ['jobs.label.permissions', 14]]);
  assert.deepEqual(locked!.notices.filter((n) => n.code === 'NESTOR_PERMISSIONS_RECORDED').map((n) => [n.key, n.line]), [['jobs.locked.permissions', 23]]);
  assert.deepEqual(label!.github?.triggers?.events, { pull_request_target: { types: ['opened', 'synchronize'] }, issues: { types: ['opened'] } });
  assert.ok(plans.flatMap((p) => p.steps).every((s) => /event push does not match pull_request; event push does not match issues/.test(s.notRunBecause ?? '')));
  assert.ok(fixture('permissions', { event: 'pull_request', branch: 'x' }).flatMap((p) => p.steps).every(runs), 'pull_request_target runs for a pull request');
});

test('timeouts-continue: continue-on-error from the matrix, step timeouts within the job\'s, a step allowed to fail', () => {
  const plans = fixture('timeouts-continue');
  assert.deepEqual(plans.map((p) => [p.title, p.github?.continueOnError, p.github?.matrix]), [
    ['test (stable)', false, { toolchain: 'stable', experimental: false }],
    ['test (beta)', false, { toolchain: 'beta', experimental: false }],
    ['test (nightly)', true, { toolchain: 'nightly', experimental: true }],
  ]);
  for (const p of plans) {
    assert.equal(p.github?.strategy['fail-fast'], false);
    const [fetch, long, lint] = written(p);
    assert.deepEqual([fetch!.timeoutMs, fetch!.ignoreFailure, fetch!.github?.continueOnError], [5 * MINUTE, true, true]);
    assert.equal(long!.timeoutMs, 20 * MINUTE, "a step's timeout never outlasts its job's");
    const nightly = p.matrix.toolchain === 'nightly';
    assert.deepEqual([lint!.ignoreFailure, lint!.github?.continueOnError, lint!.timeoutMs], [nightly, nightly, 20 * MINUTE]);
  }
});

test('artifacts: uploads are kept for the jobs after; downloads get those of every job needed, directly or not', () => {
  const plans = fixture('artifacts');
  const [build, t, report] = plans;
  assert.deepEqual(kinds(build!), ['checkout', 'run', 'upload-artifact']);
  assert.deepEqual(kinds(t!), ['download-artifact', 'run', 'upload-artifact']);
  assert.deepEqual(kinds(report!), ['download-artifact', 'run']);
  assert.deepEqual([build!.github?.uploads, build!.github?.downloads], [true, undefined]);
  assert.deepEqual([t!.github?.uploads, t!.github?.downloads], [true, true]);
  assert.deepEqual([report!.github?.uploads, report!.github?.downloads], [undefined, true]);
  assert.deepEqual(build!.artifacts?.paths, ['.nestor-artifacts/']);
  assert.equal(build!.artifacts?.when, 'always');
  assert.deepEqual(build!.artifactsFrom, undefined);
  assert.deepEqual(t!.artifactsFrom, ['build']);
  assert.deepEqual(report!.artifactsFrom, ['test', 'build']);
  assert.equal(report!.runWhen, 'always');
  assert.deepEqual(written(t!)[2]!.runOn, ['success', 'failure'], 'an upload with if: always() runs after a failure too');
  assert.deepEqual(written(build!)[2]!.github?.with, { name: 'app-bin', path: 'dist/', 'retention-days': '3' });
  assert.equal(build!.notices.filter((n) => n.code === 'NESTOR_ARTIFACT_NATIVE').length, 1);
  const upload = prepareStep(build!.github!, written(build!)[2]!.github!, newJobState('n', {}), {}, build!.workspace, 3);
  assert.ok(!('skip' in upload));
  assert.match(upload.script!, /dest=\.nestor-artifacts\/'app-bin'/);
});

test('cache: actions/cache, cache/restore and cache/save are read as a cold cache; cache-hit is false for the step after', () => {
  const [p] = fixture('cache');
  assert.deepEqual(kinds(p!), ['checkout', 'cache', 'run', 'cache', 'run', 'cache']);
  assert.deepEqual(written(p!).map((s) => s.github?.id), ['__0', 'deps', '__2', 'build-cache', '__4', '__5']);
  const deps = step(p!, 'Cache modules');
  assert.deepEqual(deps.github?.with, { path: '~/.cache/pip\n.venv\n', key: "${{ runner.os }}-deps-${{ hashFiles('**/requirements*.txt') }}", 'restore-keys': '${{ runner.os }}-deps-\n' });
  assert.deepEqual(p!.notices.filter((n) => n.code === 'NESTOR_CACHE_COLD').map((n) => [n.key, n.severity]), [
    ['jobs.build.steps.1.uses', 'info'],
    ['jobs.build.steps.3.uses', 'info'],
    ['jobs.build.steps.5.uses', 'info'],
  ]);
  assert.deepEqual(written(p!)[5]!.runOn, ['success', 'failure']);
  const state = newJobState('n', {});
  const miss = prepareStep(p!.github!, step(p!, 'Run actions/cache/restore@v4').github!, state, {}, p!.workspace, 4);
  assert.ok(!('skip' in miss));
  assert.match(miss.script!, /Cache not found for input keys: 'build-0{40}'/);
  assert.match(miss.script!, /cache-hit=false/);
  state.steps.deps = { outputs: { 'cache-hit': 'false' }, outcome: 'success', conclusion: 'success' };
  assert.ok(!('skip' in prepareStep(p!.github!, step(p!, 'Install when missed').github!, state, {}, p!.workspace, 3)));
});

test('docker-step: docker:// steps run their image as a container of their own, with args and entrypoint', () => {
  const [p] = fixture('docker-step');
  const [, shellcheck, mdlint, alpine] = written(p!);
  assert.deepEqual([shellcheck!.image, shellcheck!.command, shellcheck!.entrypoint, shellcheck!.execIn], ['koalaman/shellcheck:v0.10.0', ['-x', 'scripts/build.sh'], undefined, undefined]);
  assert.deepEqual([mdlint!.image, mdlint!.command, mdlint!.entrypoint], ['ghcr.io/igorshubovych/markdownlint-cli:v0.41.0', ['**/*.md', '--ignore', 'node_modules'], ['markdownlint']]);
  assert.deepEqual([alpine!.name, alpine!.image, alpine!.command], ['Run alpine:3.20', 'alpine:3.20', undefined]);
  for (const s of [shellcheck!, mdlint!, alpine!]) {
    assert.equal(s.github?.kind, 'run');
    assert.match(s.github?.uses ?? '', /^docker:\/\//);
    assert.ok(s.mounts.some((m) => m.kind === 'workspace' && m.target === '/github/workspace'));
  }
  assert.deepEqual(p!.images, [DEFAULT_RUNNER_IMAGE, 'koalaman/shellcheck:v0.10.0', 'ghcr.io/igorshubovych/markdownlint-cli:v0.41.0', 'alpine:3.20']);
  assert.deepEqual(codes(p!), ['NESTOR_RUNS_ON_IMAGE', 'NESTOR_CHECKOUT_NATIVE']);
});

test('cross-platform: the Linux combination runs; Windows and macOS ones are kept, said, and not run', () => {
  const plans = fixture('cross-platform');
  assert.deepEqual(plans.map((p) => p.title ?? null), ['build-ubuntu-latest', 'build-windows-latest', 'build-macos-14', null]);
  const [linux, windows, mac, only] = plans;
  assert.ok(linux!.steps.every(runs));
  assert.deepEqual(linux!.images, [DEFAULT_RUNNER_IMAGE]);
  assert.equal(step(linux!, 'Run cmake -B build && cmake --build build').github?.shell, 'bash');
  for (const [p, os, label] of [[windows!, 'Windows', 'windows-latest'], [mac!, 'macOS', 'macos-14'], [only!, 'Windows', 'windows-2022']] as const) {
    assert.ok(p.steps.every((s) => s.notRunBecause === `it runs on ${label}, which Nestor's Linux engines cannot give`), label);
    assert.deepEqual(p.images, [], `${label}: nothing to pull`);
    const n = p.notices.find((x) => x.code === 'NESTOR_PLATFORM_UNAVAILABLE')!;
    assert.equal(n.severity, 'degraded');
    assert.match(n.message, new RegExp(`runs-on ${label}: ${os} cannot run in a Linux container`));
  }
  assert.equal(step(only!, 'Run Get-ChildItem').github?.shell, 'pwsh');
});

test('env-levels: the workflow\'s env, then the job\'s, then the step\'s, each with expressions over github, matrix and env', () => {
  const plans = fixture('env-levels');
  for (const p of plans) {
    const flavour = p.matrix.flavour!;
    assert.deepEqual(p.github?.env, { APP: 'fixture', LEVEL: 'job', BRANCH: '${{ github.ref_name }}', FLAVOUR: '${{ matrix.flavour }}', TARGET: '${{ env.APP }}-${{ matrix.flavour }}' });
    const [first, second] = written(p);
    assert.deepEqual(first!.github?.env, { LEVEL: 'step', SHA_SHORT: '${{ github.sha }}', EVENT: '${{ github.event_name }}' });
    assert.equal(first!.environment.APP, undefined, 'the env is filled as the step starts, not compiled into it');
    const a = prepareStep(p.github!, first!.github!, newJobState('n', {}), first!.environment, p.workspace, 1);
    assert.ok(!('skip' in a));
    assert.deepEqual(
      { APP: a.environment.APP, LEVEL: a.environment.LEVEL, FLAVOUR: a.environment.FLAVOUR, TARGET: a.environment.TARGET, BRANCH: a.environment.BRANCH, EVENT: a.environment.EVENT, SHA_SHORT: a.environment.SHA_SHORT },
      { APP: 'fixture', LEVEL: 'step', FLAVOUR: flavour, TARGET: `fixture-${flavour}`, BRANCH: 'main', EVENT: 'push', SHA_SHORT: '0000000000000000000000000000000000000000' },
    );
    assert.equal(a.environment.GITHUB_WORKFLOW, 'Env levels');
    const b = prepareStep(p.github!, second!.github!, newJobState('n', {}), second!.environment, p.workspace, 2);
    assert.ok(!('skip' in b));
    assert.equal(b.environment.LEVEL, 'job');
  }
  const [feature] = fixture('env-levels', { branch: 'feature/login' });
  const c = prepareStep(feature!.github!, written(feature!)[0]!.github!, newJobState('n', {}), {}, feature!.workspace, 1);
  assert.ok(!('skip' in c));
  assert.equal(c.environment.BRANCH, 'feature/login');
});

test('dynamic-matrix: a matrix from fromJSON(needs…) waits for the jobs it needs, the static axes expanded; given their outputs it is expanded', () => {
  const plans = fixture('dynamic-matrix');
  const plan = job(plans, 'plan');
  assert.deepEqual(plan.github?.outputs, { packages: '${{ steps.list.outputs.packages }}', matrix: '${{ steps.list.outputs.matrix }}' });
  const per = plans.filter((p) => p.pipeline === 'per-package');
  assert.deepEqual(per.map((p) => [p.name, p.github?.matrix, p.needs, p.github?.matrixFromNeeds]), [
    ['per-package (20)', { node: 20 }, ['plan'], '${{ fromJSON(needs.plan.outputs.packages) }}'],
    ['per-package (22)', { node: 22 }, ['plan'], '${{ fromJSON(needs.plan.outputs.packages) }}'],
  ]);
  const axis = noticeAt(per[0]!, 'jobs.per-package.strategy.matrix.package', 'NESTOR_MATRIX_DYNAMIC');
  assert.equal(axis.severity, 'info');
  assert.match(axis.message, /matrix package is the expression \$\{\{ fromJSON\(needs\.plan\.outputs\.packages\) \}\}, known once the jobs it needs have ended: the job is expanded then/);
  const whole = job(plans, 'whole');
  assert.deepEqual([whole.github?.matrix, whole.matrix, whole.github?.matrixFromNeeds], [{}, {}, '${{ fromJSON(needs.plan.outputs.matrix) }}']);

  const ran = fixture('dynamic-matrix', { needs: { plan: { result: 'success', outputs: { packages: '["core","cli","web"]', matrix: '{"include":[{"pkg":"core"},{"pkg":"cli"}]}' } } } });
  assert.deepEqual(ran.filter((p) => p.pipeline === 'per-package').map((p) => [p.github?.matrix, p.github?.matrixFromNeeds]), [
    [{ package: 'core', node: 20 }, undefined], [{ package: 'core', node: 22 }, undefined],
    [{ package: 'cli', node: 20 }, undefined], [{ package: 'cli', node: 22 }, undefined],
    [{ package: 'web', node: 20 }, undefined], [{ package: 'web', node: 22 }, undefined],
  ]);
  const wholes = ran.filter((p) => p.pipeline === 'whole');
  assert.deepEqual(wholes.map((p) => p.matrix), [{ pkg: 'core' }, { pkg: 'cli' }]);
  assert.match(noticeAt(wholes[0]!, 'jobs.whole.strategy.matrix', 'NESTOR_MATRIX_FROM_NEEDS').message, /expanded from the outputs of the jobs it needs: 2 combinations/);
  // Outputs that are not what the expression wants: the job stands as one, as before its needs ran.
  const odd = fixture('dynamic-matrix', { needs: { plan: { result: 'success', outputs: { packages: 'not json', matrix: '' } } } });
  assert.deepEqual(odd.filter((p) => p.pipeline === 'whole').map((p) => p.github?.matrixFromNeeds), ['${{ fromJSON(needs.plan.outputs.matrix) }}']);
});

test('runner-labels: self-hosted labels and a runner group become runner labels; an arm runner asks for arm64', () => {
  const plans = fixture('runner-labels');
  assert.deepEqual(plans.map((p) => [p.name, p.runnerLabels, p.steps[0]!.image]), [
    ['gpu', ['gpu'], DEFAULT_RUNNER_IMAGE],
    ['arm', ['platform=linux/arm64'], DEFAULT_RUNNER_IMAGE],
    ['grouped', ['large-disk', 'group=build-farm'], DEFAULT_RUNNER_IMAGE],
  ]);
  assert.match(noticeAt(plans[0]!, 'jobs.gpu.runs-on', 'NESTOR_RUNNER_LABELS').message, /gpu is a runner label/);
  assert.equal(noticeAt(plans[2]!, 'jobs.grouped.runs-on', 'NESTOR_RUNNER_LABELS').severity, 'info');
  const arm = fixture('runner-labels', { platforms: { 'ubuntu-24.04-arm': 'my/arm-runner:1' } });
  assert.equal(job(arm, 'arm').steps[0]!.image, 'my/arm-runner:1', '-P maps a label to an image');
});

test('environment-deploy: environment of each job is recorded, its own concurrency group holds the job on a server (one at a time across runs); secrets stay expressions for the run', () => {
  const plans = fixture('environment-deploy');
  const [staging, production] = plans;
  for (const p of plans) {
    assert.equal(noticeAt(p, `jobs.${p.name}.environment`, 'NESTOR_ENVIRONMENT_RECORDED').severity, 'info');
    assert.match(noticeAt(p, `jobs.${p.name}.concurrency`, 'NESTOR_CONCURRENCY_RECORDED').message, /one job of the group "deploy-\w+" at a time/);
    assert.equal(p.concurrency, undefined, 'a job-level group is not the run\'s');
  }
  assert.deepEqual(planGraph(plans).map((j) => j.resourceGroup), ['deploy-staging', 'deploy-production'], 'the server runs one job of each group at a time, as a resource_group');
  assert.equal(production!.notices.some((n) => n.code === 'NESTOR_CANCEL_IN_PROGRESS_JOB'), false, 'cancel-in-progress: false drops nothing');
  assert.deepEqual(production!.needs, ['staging']);
  assert.deepEqual(written(staging!)[0]!.github?.env, { DEPLOY_KEY: '${{ secrets.STAGING_DEPLOY_KEY }}' });
  const prepared = prepareStep(staging!.github!, written(staging!)[0]!.github!, newJobState('n', { STAGING_DEPLOY_KEY: 'k3y' }), {}, staging!.workspace, 1);
  assert.ok(!('skip' in prepared));
  assert.equal(prepared.environment.DEPLOY_KEY, 'k3y');
});

test('events-recorded: events Nestor does not match itself are recorded with their settings, and decide the run by name', () => {
  const plans = fixture('events-recorded');
  assert.deepEqual(plans[0]!.github?.triggers?.events, {
    issue_comment: { types: ['created'] },
    release: { types: ['published'] },
    workflow_run: { workflows: ['CI'], types: ['completed'], branches: ['main'] },
    repository_dispatch: { types: ['rebuild'] },
    merge_group: null,
    label: { types: ['created', 'deleted'] },
  });
  assert.ok(plans.flatMap((p) => p.steps).every((s) => s.notRunBecause !== undefined), 'not on a push');
  const release = fixture('events-recorded', { event: 'release' });
  assert.ok(job(release, 'on-release').steps.every(runs));
  assert.ok(job(release, 'respond').steps.every((s) => /the job's if: .* is false/.test(s.notRunBecause ?? '')));
  assert.equal(job(release, 'on-release').github?.context?.event_name, 'release');
});

test('docker-cli: docker buildx and docker compose in scripts are said; docker-compose (v1) is not', () => {
  const [p] = fixture('docker-cli');
  assert.deepEqual(p!.notices.filter((n) => n.severity === 'degraded').map((n) => [n.code, n.key]), [
    ['NESTOR_DOCKER_BUILDX', 'jobs.e2e.steps.1.run'],
    ['NESTOR_DOCKER_COMPOSE_V2', 'jobs.e2e.steps.2.run'],
    ['NESTOR_DOCKER_COMPOSE_V2', 'jobs.e2e.steps.4.run'],
  ]);
  assert.deepEqual(kinds(p!), ['checkout', 'run', 'run', 'run', 'run']);
  assert.deepEqual(step(p!, 'Tear down').runOn, ['success', 'failure']);
  assert.equal(step(p!, 'Build images').engine.client, true, "steps talk to the job's own engine");
});

test('remote-reusable: a remote reusable workflow and remote actions are said as unreachable; the rest of the job is kept', () => {
  const plans = fixture('remote-reusable', { event: 'pull_request', branch: 'topic' });
  const lint = job(plans, 'lint');
  assert.deepEqual(lint.steps, []);
  assert.match(noticeAt(lint, 'jobs.lint.uses', 'NESTOR_REMOTE_UNREACHABLE').message, /^example-org\/shared-workflows\/.github\/workflows\/lint.yml@v2: a reusable workflow of file:\/\/\/nonexistent\/nestor-test-forge\/example-org\/shared-workflows; it could not be fetched \(.+\), so job lint is not run$/);
  const t = job(plans, 'test');
  assert.deepEqual(t.needs, ['lint']);
  assert.deepEqual(kinds(t), ['unavailable', 'unavailable', 'run']);
  assert.ok(written(t).every(runs), 'on a pull request');
  assert.deepEqual(written(t)[0]!.github?.with, { mode: 'fast' });
  assert.match(noticeAt(t, 'jobs.test.steps.1.uses', 'NESTOR_REMOTE_UNREACHABLE').message, /nestor-test-forge\/example-org\/monorepo; it could not be/);
});

test('multi-workflow: every .yml and .yaml of .github/workflows is read, each its own workflow; other files are not', () => {
  const plans = fixture('multi-workflow');
  assert.deepEqual(plans.map((p) => [p.name, p.github?.workflow]), [['lint', 'Lint'], ['docs', 'Docs']]);
  assert.deepEqual(plans[1]!.github?.triggers?.events, { push: { paths: ['docs/**'] } });
  const [, docs] = fixture('multi-workflow', { changedPaths: ['src/a.ts'] });
  assert.ok(docs!.steps.every((s) => s.notRunBecause !== undefined));
});

/**
 * The keys formats/github.ts reads, by path in a workflow (`*` any one segment, `#` a list
 * index, `**` a free-form map). `on:` is read whole into the plan's triggers; permissions,
 * concurrency, environment, container and service credentials and ports are named in notices.
 */
const STEP = ['id', 'if', 'name', 'uses', 'run', 'working-directory', 'shell', 'with.**', 'env.**', 'continue-on-error', 'timeout-minutes'];
const CONTAINER = ['image', 'env.**', 'volumes', 'volumes.#', 'options', 'ports', 'ports.#'];
const JOB = [
  'name', 'needs', 'needs.#', 'if', 'runs-on', 'runs-on.#', 'runs-on.labels', 'runs-on.labels.#', 'outputs.**', 'env.**', 'defaults', 'defaults.run', 'defaults.run.shell', 'defaults.run.working-directory',
  'timeout-minutes', 'continue-on-error', 'strategy', 'strategy.matrix.**', 'strategy.fail-fast', 'strategy.max-parallel',
  'container', ...CONTAINER.map((k) => `container.${k}`), 'services', 'services.*', ...CONTAINER.map((k) => `services.*.${k}`), 'uses', 'with.**', 'secrets.**',
  'steps', 'steps.#', ...STEP.map((k) => `steps.#.${k}`),
];
export const GITHUB_READ: readonly string[] = ['name', 'on.**', 'env.**', 'defaults', 'defaults.run', 'defaults.run.shell', 'defaults.run.working-directory', 'jobs', 'jobs.*', ...JOB.map((k) => `jobs.*.${k}`)];

/**
 * Keys the reader drops today without a word (reported; not checked until the reader reads or
 * names them), by fixture and path.
 */
export const SILENTLY_DROPPED: { fixture: string; path: string; why: string }[] = [
];

/**
 * Whether a notice speaks for a key: the helper's rule; and the notice that a job calling a reusable
 * workflow is not run at all (at its `uses`: its forge does not answer) speaks for that job's with: and secrets:.
 */
function githubSpeaksFor(notice: Pick<PipelineNotice, 'key' | 'code'>, path: readonly string[]): boolean {
  if (speaksFor(notice, path)) return true;
  const key = notice.key.split('.');
  const notRun = notice.code === 'NESTOR_REMOTE_UNREACHABLE' && key.length === 3 && key[0] === 'jobs' && key[2] === 'uses';
  return notRun && path[0] === 'jobs' && path[1] === key[1] && (path[2] === 'with' || path[2] === 'secrets');
}

function unaccountedIn(name: string, plans: JobPlan[]): string[] {
  const dir = join(FIXTURES, name, '.github', 'workflows');
  const notices = plans.flatMap((p) => p.notices);
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .flatMap((f) => {
      const file = join(dir, f);
      return documentsOf(file).flatMap((doc) => {
        const here = noticesAt(notices, file, doc);
        return keyPaths(doc.value)
          .filter((path) => !GITHUB_READ.some((p) => matches(p, path)) && !here.some((n) => githubSpeaksFor(n, path)))
          .map((path) => `${name}: ${path.join('.')}`);
      });
    });
}

test('every key of every GitHub fixture is read, or named in a notice at its place (but the known silent drops)', () => {
  const known = new Set(SILENTLY_DROPPED.map((d) => `${d.fixture}: ${d.path}`));
  const found = compiling().flatMap((name) => unaccountedIn(name, fixture(name)));
  assert.deepEqual(found.filter((k) => !known.has(k)), [], 'neither read nor noticed');
  // Each known drop is still there: when the reader reads it, take it off the list.
  for (const k of known) assert.ok(found.includes(k), `${k} is accounted for now: take it off SILENTLY_DROPPED`);
});

test('the GitHub key walk knows the keys it reads and finds one the reader drops', () => {
  assert.ok(matches('jobs.*.steps.#.with.**', ['jobs', 'build', 'steps', '2', 'with', 'node-version']));
  assert.ok(!GITHUB_READ.some((p) => matches(p, ['jobs', 'build', 'steps', '0', 'shel'])));
  assert.deepEqual(unaccounted({ 'run-name': 'x', jobs: { a: { 'runs-on': 'ubuntu-latest', steps: [{ run: 'make' }] } } }, GITHUB_READ, []), ['run-name']);
  // A reusable-workflow job's with: and secrets: are spoken for by the notice that it is not run; another job's are not.
  const notice = { key: 'jobs.call.uses', code: 'NESTOR_REMOTE_UNREACHABLE' } as const;
  assert.ok(githubSpeaksFor(notice, ['jobs', 'call', 'with', 'target']));
  assert.ok(!githubSpeaksFor(notice, ['jobs', 'other', 'with', 'target']));
  assert.ok(githubSpeaksFor({ key: 'jobs.a.runs-on', code: 'NESTOR_RUNNER_LABELS' }, ['jobs', 'a', 'runs-on', 'group']), 'the runs-on notice names the group as a runner label');
  assert.ok(githubSpeaksFor({ key: 'jobs.a.runs-on', code: 'NESTOR_RUNNER_LABELS' }, ['jobs', 'a', 'runs-on', 'labels', '0']));
});
