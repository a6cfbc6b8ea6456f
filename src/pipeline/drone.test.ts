import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PipelineError } from './errors.ts';
import { documentsOf, failureOf, noticesAt, stepOf, unaccounted } from './fixture-walk.test-helper.ts';
import { loadPlans } from './load.ts';
import type { CompileOptions } from './compile.ts';
import type { JobPlan, PlanStep } from './plan.ts';

/**
 * Fixtures Drone accepts that Nestor refuses or misreads: kept, left out of every assertion
 * below until the reader does what Drone does. Each is described where the reader goes wrong.
 */
export const KNOWN_GAPS: { name: string; why: string }[] = [];

/** Drone files, read as Drone reads them: the fixtures of test/fixtures/drone and one test per feature. */

const FIXTURES = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'drone');
const opts: CompileOptions = { defaultImage: 'busybox:latest', branch: 'main', event: 'push' };

const load = (dir: string, extra: Partial<CompileOptions> = {}): JobPlan[] => loadPlans(dir, undefined, { ...opts, ...extra });
const fixture = (name: string, extra: Partial<CompileOptions> = {}) => load(join(FIXTURES, name), extra);
const plan = (plans: JobPlan[], name: string): JobPlan => {
  const p = plans.find((x) => x.pipeline === name);
  assert.ok(p, `no pipeline ${name} in ${plans.map((x) => x.pipeline).join(', ')}`);
  return p;
};
const step = stepOf;
const failure = failureOf;
/** Whether a pipeline's step runs, given the run's facts: its own reason when not. */
const runs = (plans: JobPlan[], pipeline: string, name: string): boolean => step(plan(plans, pipeline), name).notRunBecause === undefined;

/** What each fixture compiles to: its pipelines, its steps over all of them, the codes of its degraded notices; or its problems (line: message start). */
const EXPECTED: Record<string, { pipelines?: string[]; steps?: number; degraded?: string[]; problems?: string[] }> = {
  'one-step': { pipelines: ['default'], steps: 1 },
  'multi-pipeline': { pipelines: ['build-amd64', 'build-arm64', 'release', 'report'], steps: 4 },
  plugins: { pipelines: ['publish'], steps: 3 },
  'docker-socket': { pipelines: ['images'], steps: 2 },
  'temp-volumes': { pipelines: ['cached'], steps: 2 },
  services: { pipelines: ['integration'], steps: 2 },
  trigger: { pipelines: ['branches', 'pull-requests', 'tags', 'nightly', 'deploy'], steps: 5 },
  when: { pipelines: ['conditional'], steps: 8 },
  clone: { pipelines: ['shallow', 'no-clone'], steps: 2 },
  'runner-selection': { pipelines: ['private-images'], steps: 1 },
  platform: { pipelines: ['linux', 'windows'], steps: 2, degraded: ['NESTOR_PLATFORM_UNAVAILABLE'] },
  'step-options': { pipelines: ['options'], steps: 4 },
  kubernetes: { pipelines: ['default'], steps: 1 },
  'exec-ssh': { pipelines: ['build', 'host-tests', 'deploy'], steps: 3, degraded: ['NESTOR_PLATFORM_UNAVAILABLE', 'NESTOR_PLATFORM_UNAVAILABLE'] },
  anchors: { pipelines: ['anchors'], steps: 3 },
  'repeated-keys': { pipelines: ['default'], steps: 1 },
  dind: { pipelines: ['docker-build'], steps: 1 },
  'secret-documents': { pipelines: ['default'], steps: 1 },
  'kubernetes-pod': { pipelines: ['default'], steps: 1, degraded: ['NESTOR_SERVICE_ACCOUNT'] },
  'temp-medium': { pipelines: ['fast-cache'], steps: 1 },
  'platform-arch': { pipelines: ['arm64'], steps: 1 },
  large: { pipelines: ['lint', 'test-go-1.22', 'test-go-1.23', 'test-web', 'integration', 'image-amd64', 'image-manifest', 'docs', 'release', 'nightly', 'notify', 'cleanup'], steps: 20 },
  'three-problems': {
    problems: ['8: unknown key "comands" in step compile (did you mean "commands"?)', '15: step test depends on unknown step "compiel" (did you mean "compile"?)', '25: Invalid option: expected one of "ignore"'],
  },
};

const gaps = new Set(KNOWN_GAPS.map((g) => g.name));
const checked = () => Object.keys(EXPECTED).filter((n) => !gaps.has(n));
const compiling = () => checked().filter((n) => !EXPECTED[n]!.problems);

test('every Drone fixture compiles, or fails with exactly its expected problems', () => {
  const names = readdirSync(FIXTURES).filter((n) => statSync(join(FIXTURES, n)).isDirectory()).sort();
  assert.ok(names.length >= 15, `${names.length} fixtures`);
  assert.deepEqual(names, [...new Set([...Object.keys(EXPECTED), ...gaps])].sort(), 'each fixture is expected, or a known gap');
  for (const name of checked()) {
    const want = EXPECTED[name]!;
    if (want.problems) {
      const err = failure(() => fixture(name));
      assert.deepEqual(err.problems.map((p, i) => `${p.position.line}: ${p.message}`.slice(0, want.problems![i]?.length)), want.problems, name);
      continue;
    }
    const plans = fixture(name);
    assert.deepEqual(plans.map((p) => p.pipeline), want.pipelines, name);
    assert.equal(plans.reduce((n, p) => n + p.steps.length, 0), want.steps, name);
    const degraded = plans.flatMap((p) => p.notices.filter((n) => n.severity === 'degraded'));
    assert.deepEqual(degraded.map((n) => n.code), want.degraded ?? [], `${name}: ${JSON.stringify(degraded)}`);
  }
});

/**
 * The keys drone.ts reads, by path in a document (`#` a list index, `**` a free-form map).
 * `clone`'s other keys, `pull` and the platform a pipeline cannot run on are named in notices.
 */
const FILTER = ['', '.include', '.exclude'];
const CONDITIONS = ['branch', 'event', 'paths', 'ref', 'repo', 'instance', 'target', 'cron', 'action'];
const condition = (at: string) => [at, `${at}.status`, ...CONDITIONS.flatMap((c) => FILTER.map((f) => `${at}.${c}${f}`))];
const CONTAINER = [
  'name', 'image', 'commands', 'command', 'entrypoint', 'environment.**', 'volumes', 'volumes.#.name', 'volumes.#.path', 'privileged', 'detach',
  'depends_on', 'failure', 'network_mode', 'working_dir', 'pull', 'settings.**', 'user', 'secrets', 'secrets.#.source', 'secrets.#.target', ...condition('when'),
];
export const DRONE_READ: readonly string[] = [
  'kind', 'type', 'name', 'depends_on', 'image_pull_secrets', 'node.**', 'concurrency', 'concurrency.limit', 'environment.**',
  'workspace', 'workspace.path', 'workspace.base', 'platform', 'platform.os', 'platform.arch', 'platform.variant', 'clone', 'clone.disable',
  'volumes', 'volumes.#.name', 'volumes.#.temp', 'volumes.#.host', 'volumes.#.host.path',
  'steps', ...CONTAINER.map((k) => `steps.#.${k}`), 'services', ...CONTAINER.map((k) => `services.#.${k}`), ...condition('trigger'),
];

/** Each key of every document of `file` that is neither read nor noticed, as `fixture: path`. */
function unaccountedIn(name: string, file: string, plans: JobPlan[]): string[] {
  const notices = plans.flatMap((p) => p.notices);
  // Of a document that is no pipeline (a secret, a signature) the reader reads its kind and name; a notice says the rest.
  const table = (doc: unknown) => ((doc as { kind?: unknown } | null)?.kind === 'pipeline' ? DRONE_READ : ['kind', 'name']);
  return documentsOf(file).flatMap((doc) => unaccounted(doc.value, table(doc.value), noticesAt(notices, file, doc)).map((path) => `${name}: ${path}`));
}

test('every key of every Drone fixture is read, or named in a notice at its place', () => {
  for (const name of compiling()) {
    assert.deepEqual(unaccountedIn(name, join(FIXTURES, name, '.drone.yml'), fixture(name)), [], 'neither read nor noticed');
  }
});

test('the key walk names a key Drone\'s reader drops, and not one a notice names', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nestor-drone-'));
  const file = join(dir, '.drone.yml');
  // A document of a kind Drone has and Nestor does not read: its notice is at its kind, so its other keys are named.
  writeFileSync(file, 'kind: pipeline\nname: p\nclone:\n  depth: 5\nsteps:\n  - name: a\n    image: alpine\n    commands: [echo]\n---\nkind: template\nname: t\ndata: {a: 1}\n');
  assert.deepEqual(unaccountedIn('planted', file, load(dir)), ['planted: data', 'planted: data.a']);
});

test('one step: a docker pipeline with one step runs its commands in /drone/src', () => {
  const [p] = fixture('one-step');
  const s = step(p!, 'test');
  assert.deepEqual([s.image, s.commands, s.workingDir, p!.workspace], ['node:22-alpine', ['npm ci', 'npm test'], '/drone/src', '/drone/src']);
  assert.equal(s.environment.DRONE, 'true');
});

test('several pipelines: depends_on makes jobs that wait, trigger status says after which outcomes', () => {
  const plans = fixture('multi-pipeline');
  assert.equal(plan(plans, 'build-amd64').needs, undefined);
  assert.deepEqual([plan(plans, 'release').needs, plan(plans, 'release').runWhen], [['build-amd64', 'build-arm64'], 'on_success']);
  assert.deepEqual([plan(plans, 'report').needs, plan(plans, 'report').runWhen], [['release'], 'always']);
});

test('plugins: each setting is PLUGIN_NAME (lists joined, objects as JSON), from_secret a secret; plugins/docker gets the job engine', () => {
  const p = fixture('plugins')[0]!;
  const image = step(p, 'image');
  assert.equal(image.script, undefined, 'a plugin runs its own entrypoint');
  assert.deepEqual([image.environment.PLUGIN_REPO, image.environment.PLUGIN_TAGS, image.environment.PLUGIN_BUILD_ARGS], ['registry.example.com/team/app', 'latest,1.4', 'VERSION=1.4.0']);
  assert.deepEqual([image.environment.PLUGIN_AUTO_TAG, image.environment.PLUGIN_PURGE], ['true', 'false']);
  assert.deepEqual(image.secrets.map((s) => [s.name, s.env]).sort(), [['registry_password', 'PLUGIN_PASSWORD'], ['registry_user', 'PLUGIN_USERNAME']]);
  assert.equal(image.environment.PLUGIN_DAEMON_OFF, 'true');
  assert.ok(image.mounts.some((m) => m.kind === 'engine-socket' && m.target === '/var/run/docker.sock'));
  const chat = step(p, 'chat');
  assert.deepEqual([chat.environment.PLUGIN_HEADERS, chat.environment.PLUGIN_TEMPLATE], ['{"X-Source":"drone"}', '{"text":"build {{ build.number }} finished"}']);
  assert.equal(step(p, 'upload').environment.PLUGIN_DAEMON_OFF, undefined, 'only daemon plugins get the engine');
});

test('a host volume of /var/run/docker.sock is the job engine\'s socket, in an untrusted job too', () => {
  const p = fixture('docker-socket')[0]!;
  for (const name of ['build', 'scan']) assert.deepEqual(step(p, name).mounts.filter((m) => m.kind !== 'workspace'), [{ kind: 'engine-socket', target: '/var/run/docker.sock' }]);
  assert.deepEqual(p.volumes, []);
});

test('temp volumes are volumes of the job, shared by the steps that mount them', () => {
  const p = fixture('temp-volumes')[0]!;
  assert.deepEqual(p.volumes.sort(), ['gopath', 'scratch']);
  assert.deepEqual(step(p, 'deps').mounts.filter((m) => m.kind === 'volume'), [{ kind: 'volume', name: 'gopath', target: '/go', readOnly: false }]);
  assert.deepEqual(step(p, 'test').mounts.filter((m) => m.kind === 'volume').map((m) => m.target), ['/go', '/tmp/work']);
});

test('services run beside the steps, reached by their names, with their environment and command', () => {
  const p = fixture('services')[0]!;
  assert.deepEqual(p.services.map((s) => [s.name, s.image]), [['database', 'postgres:16'], ['cache', 'redis:7-alpine']]);
  assert.equal(p.services[0]!.environment.POSTGRES_DB, 'app_test');
  assert.deepEqual(p.services[1]!.command, ['redis-server', '--save', '']);
  assert.equal(step(p, 'test').environment.REDIS_URL, 'redis://cache:6379/0');
});

test('trigger: branch, event, ref, cron and target, with include, exclude and globs', () => {
  const main = fixture('trigger');
  assert.deepEqual(['branches', 'pull-requests', 'tags', 'nightly', 'deploy'].map((n) => runs(main, n, plan(main, n).steps[0]!.name)), [true, true, false, false, false]);
  assert.match(step(plan(fixture('trigger', { branch: 'release/legacy-2' }), 'branches'), 'test').notRunBecause ?? '', /branch release\/legacy-2 does not match main, release\/\* except release\/legacy-\*/);
  assert.equal(runs(fixture('trigger', { branch: 'release/2.0' }), 'branches', 'test'), true);
  assert.equal(runs(fixture('trigger', { event: 'pull_request', ref: 'refs/pull/12/head' }), 'pull-requests', 'lint'), true);
  assert.equal(runs(fixture('trigger', { event: 'tag', tag: 'v1.2.0' }), 'tags', 'package'), true);
  assert.match(step(plan(fixture('trigger', { event: 'tag', tag: 'v1.2.0-rc1' }), 'tags'), 'package').notRunBecause ?? '', /ref refs\/tags\/v1\.2\.0-rc1 does not match/);
  const cron = fixture('trigger', { event: 'cron', facts: { cron: 'nightly' } });
  assert.deepEqual([runs(cron, 'nightly', 'audit'), runs(cron, 'branches', 'test')], [true, false]);
  assert.equal(runs(fixture('trigger', { event: 'cron', facts: { cron: 'weekly' } }), 'nightly', 'audit'), false);
  assert.equal(runs(fixture('trigger', { event: 'promote', facts: { target: 'production' } }), 'deploy', 'rollout'), true);
  assert.match(step(plan(fixture('trigger', { event: 'promote', facts: { target: 'qa' } }), 'deploy'), 'rollout').notRunBecause ?? '', /target qa does not match production, staging/);
});

test('step when: event, ref, branch with globs, instance and repo as server facts, status', () => {
  const notRun = (p: JobPlan) => p.steps.filter((s) => s.notRunBecause).map((s) => s.name);
  assert.deepEqual(notRun(fixture('when')[0]!), ['release-build', 'feature-branches', 'our-server']);
  assert.deepEqual(notRun(fixture('when', { event: 'tag', tag: 'v2.0.0' })[0]!), ['dev-build', 'main-only', 'feature-branches', 'our-server']);
  assert.deepEqual(notRun(fixture('when', { branch: 'feature/login' })[0]!), ['release-build', 'main-only', 'our-server']);
  assert.ok(notRun(fixture('when', { branch: 'feature/wip-x' })[0]!).includes('feature-branches'));
  assert.ok(!notRun(fixture('when', { facts: { instance: 'ci.example.com', repo: 'team/app' } })[0]!).includes('our-server'));
  const p = fixture('when')[0]!;
  assert.deepEqual([step(p, 'on-failure').runOn, step(p, 'always').runOn.sort()], [['failure'], ['failure', 'success']]);
});

test('clone: depth and retries are said to change nothing (the checkout is copied); disable starts the workspace empty', () => {
  const plans = fixture('clone');
  assert.equal(plan(plans, 'shallow').copySource, true);
  assert.deepEqual(plan(plans, 'shallow').notices.map((n) => [n.key, n.code, n.severity]), [['clone', 'NESTOR_CLONE_COPIED', 'info']]);
  assert.equal(plan(plans, 'no-clone').copySource, false);
  assert.deepEqual(plan(plans, 'no-clone').notices.map((n) => [n.key, n.severity]), [['clone.disable', 'info']]);
});

test('node is the runner labels the pipeline asks for; image_pull_secrets are said to be used for its pulls', () => {
  const p = fixture('runner-selection')[0]!;
  assert.deepEqual(p.runnerLabels, ['pool=heavy', 'region=eu']);
  const pull = p.notices.find((n) => n.key === 'image_pull_secrets');
  assert.ok(pull, JSON.stringify(p.notices));
  assert.match(pull.message, /dockerconfig/);
});

test('platform: a Linux pipeline runs; a Windows one is listed as not run, and why', () => {
  const plans = fixture('platform');
  assert.equal(runs(plans, 'linux', 'build'), true);
  const windows = plan(plans, 'windows');
  assert.match(step(windows, 'build').notRunBecause ?? '', /platform os windows: Nestor runs Linux containers/);
  assert.deepEqual(windows.notices.map((n) => [n.key, n.code, n.severity, n.line]), [['platform', 'NESTOR_PLATFORM_UNAVAILABLE', 'degraded', 20]]);
});

test('step options: detach, failure: ignore, pull, user, working_dir, entrypoint and command, environment with from_secret', () => {
  const p = fixture('step-options')[0]!;
  assert.equal(step(p, 'mock-api').detach, true);
  const t = step(p, 'test');
  assert.deepEqual([t.user, t.workingDir, t.environment.API_URL, t.environment.APP_ENV, t.environment.LOG_LEVEL], ['node', '/drone/src/web', 'http://mock-api:8080', 'ci', 'debug']);
  assert.deepEqual(t.secrets, [{ name: 'npm_token', env: 'NPM_TOKEN' }]);
  assert.equal(t.environment.NPM_TOKEN, undefined, 'the secret is given by the runner, never written in the plan');
  assert.deepEqual([step(p, 'lint').ignoreFailure, t.ignoreFailure], [true, false]);
  assert.deepEqual([step(p, 'report').entrypoint, step(p, 'report').command], [['/bin/sh', '-c'], ['echo report']]);
  assert.deepEqual(p.notices.filter((n) => n.code === 'NESTOR_PULL_POLICY').map((n) => n.key), ['steps.1.pull', 'steps.2.pull', 'steps.3.pull']);
});

test('type: kubernetes pipelines run as docker pipelines do', () => {
  const p = fixture('kubernetes')[0]!;
  assert.deepEqual([step(p, 'test').image, step(p, 'test').notRunBecause, p.notices.length], ['maven:3.9-eclipse-temurin-21', undefined, 0]);
});

test('type: exec and type: ssh pipelines are named as not run here; the docker pipeline beside them runs', () => {
  const plans = fixture('exec-ssh');
  assert.equal(runs(plans, 'build', 'compile'), true);
  assert.match(step(plan(plans, 'host-tests'), 'smoke').notRunBecause ?? '', /type: exec pipelines run on Drone's exec runner/);
  assert.match(step(plan(plans, 'deploy'), 'restart').notRunBecause ?? '', /type: ssh/);
  assert.deepEqual(plans.flatMap((p) => p.notices.map((n) => [p.pipeline, n.key])), [['host-tests', 'type'], ['deploy', 'type']]);
});

test('anchors and merge keys: a step merged from another, with its environment merged and overridden', () => {
  const p = fixture('anchors')[0]!;
  const race = step(p, 'race');
  assert.deepEqual([race.image, race.environment.CGO_ENABLED, race.environment.GOFLAGS, race.commands], ['golang:1.23', '1', '-mod=readonly', ['go test -race ./...']]);
  assert.equal(step(p, 'unit').environment.CGO_ENABLED, '0');
  for (const name of ['unit', 'race', 'vet']) assert.deepEqual(step(p, name).mounts.filter((m) => m.kind === 'volume').map((m) => m.target), ['/root/.cache/go-build'], name);
});

test('a key written twice in one map: the last counts, as Drone reads it, and a notice says so at both lines', () => {
  const p = fixture('repeated-keys')[0]!;
  assert.equal(step(p, 'test').image, 'python:3.12');
  const n = p.notices.find((x) => x.code === 'NESTOR_REPEATED_KEY');
  assert.deepEqual([n?.key, n?.severity, n?.line], ['steps.0.image', 'info', 10]);
  assert.match(n!.message, /line 7 and line 10/);
});

test('a dind service without TLS (DOCKER_TLS_CERTDIR "") is the job\'s engine, answering plain on tcp://docker:2375', () => {
  const p = fixture('dind')[0]!;
  assert.deepEqual([p.plainEngine, p.engineAliases, p.services], [true, ['docker'], []]);
  const build = step(p, 'build');
  assert.equal(build.environment.DOCKER_HOST, 'tcp://docker:2375');
  assert.equal(build.engine.plain, true);
  assert.deepEqual(p.notices.map((n) => n.code), ['NESTOR_DIND_SERVED', 'NESTOR_DIND_PLAIN']);
});

test('a large file: twelve pipelines in a graph of depends_on, each after the outcomes its trigger names', () => {
  const plans = fixture('large');
  assert.deepEqual(plans.filter((p) => p.needs).map((p) => [p.pipeline, p.needs, p.runWhen]), [
    ['test-go-1.22', ['lint'], 'on_success'],
    ['test-go-1.23', ['lint'], 'on_success'],
    ['test-web', ['lint'], 'on_success'],
    ['integration', ['test-go-1.23'], 'on_success'],
    ['image-amd64', ['integration', 'test-web'], 'on_success'],
    ['image-manifest', ['image-amd64'], 'on_success'],
    ['release', ['image-manifest'], 'on_success'],
    ['notify', ['release'], 'on_failure'],
    ['cleanup', ['notify'], 'always'],
  ]);
  assert.deepEqual(step(plan(plans, 'test-web'), 'unit').dependsOn, ['install']);
  assert.equal(runs(plans, 'release', 'binaries'), false, 'a tag pipeline on a push');
  assert.equal(runs(fixture('large', { event: 'tag', tag: 'v1.0.0' }), 'release', 'binaries'), true);
});

test("secret and signature documents: said where they are, the secret is the run's of that name", () => {
  const [p] = fixture('secret-documents');
  const said = Object.fromEntries(p!.notices.map((n) => [n.code, n]));
  assert.match(said.NESTOR_SECRET_DOCUMENT!.message, /secret deploy_token is read from ci\/data\/deploy#token of Drone's secret extension; here it is the run's secret deploy_token/);
  assert.equal(said.NESTOR_SECRET_DOCUMENT!.severity, 'info');
  assert.equal(said.NESTOR_SIGNATURE_UNCHECKED!.key, 'hmac');
});

test("kubernetes pipelines: the pod's settings are recorded, its service account said as lost; steps' resources recorded", () => {
  const [p] = fixture('kubernetes-pod');
  const byKey = Object.fromEntries(p!.notices.map((n) => [n.key, [n.code, n.severity]]));
  assert.deepEqual(byKey.metadata, ['NESTOR_KEY_RECORDED', 'info']);
  assert.deepEqual(byKey.node_selector, ['NESTOR_KEY_RECORDED', 'info']);
  assert.deepEqual(byKey.tolerations, ['NESTOR_KEY_RECORDED', 'info']);
  assert.deepEqual(byKey.service_account_name, ['NESTOR_SERVICE_ACCOUNT', 'degraded']);
  assert.equal(p!.runnerLabels, undefined, "a cluster's node labels are no runner's");
});

test('a temp volume in memory is a volume of the job on disk, said as only slower', () => {
  const [p] = fixture('temp-medium');
  const n = p!.notices.find((x) => x.code === 'NESTOR_TEMP_ON_DISK');
  assert.deepEqual([n?.key, n?.severity], ['volumes.0.temp', 'info']);
  assert.ok(p!.steps[0]!.mounts.some((m) => m.kind === 'volume' && m.target === '/root/.npm'));
});

test("platform arch: the pipeline goes to a runner of that platform (every runner has its own platform's label)", () => {
  const [p] = fixture('platform-arch');
  assert.deepEqual(p!.runnerLabels, ['platform=linux/arm64']);
  assert.match(p!.notices.find((n) => n.code === 'NESTOR_RUNNER_LABELS')!.message, /platform\.arch \(platform=linux\/arm64\)/);
});
