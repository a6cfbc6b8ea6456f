import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PipelineError, type PipelineNotice } from './errors.ts';
import { documentsOf, failureOf, noticesAt, stepOf, unaccounted } from './fixture-walk.test-helper.ts';
import { loadPlans } from './load.ts';
import type { CompileOptions } from './compile.ts';
import type { JobPlan, PlanStep } from './plan.ts';

/**
 * Fixtures Woodpecker accepts that Nestor refuses or misreads: kept, left out of every
 * assertion below until the reader does what Woodpecker does. Each is described where the
 * reader goes wrong.
 */
export const KNOWN_GAPS: { name: string; why: string }[] = [];

/** Woodpecker files, read as Woodpecker reads them: the fixtures of test/fixtures/woodpecker and one test per feature. */

const FIXTURES = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'woodpecker');
const opts: CompileOptions = { defaultImage: 'busybox:latest', branch: 'main', event: 'push' };

const fixture = (name: string, extra: Partial<CompileOptions> = {}): JobPlan[] => loadPlans(join(FIXTURES, name), undefined, { ...opts, ...extra });
/** The one plan of a fixture without a matrix or several workflows. */
const only = (name: string, extra: Partial<CompileOptions> = {}): JobPlan => {
  const plans = fixture(name, extra);
  assert.equal(plans.length, 1, name);
  return plans[0]!;
};
const plan = (plans: JobPlan[], name: string): JobPlan => {
  const p = plans.find((x) => x.name === name);
  assert.ok(p, `no plan ${name} in ${plans.map((x) => x.name).join(', ')}`);
  return p;
};
const step = stepOf;
const failure = failureOf;
const notRun = (p: JobPlan) => p.steps.filter((s) => s.notRunBecause).map((s) => s.name);

/** What each fixture compiles to: its jobs (workflows, matrix entries), its steps over all of them, the codes of its degraded notices; or its problems. */
const EXPECTED: Record<string, { jobs?: string[]; steps?: number; degraded?: string[]; problems?: string[] }> = {
  'one-step': { jobs: ['woodpecker'], steps: 1 },
  'steps-list': { jobs: ['woodpecker'], steps: 5 },
  'steps-map': { jobs: ['woodpecker'], steps: 3 },
  workflows: { jobs: ['build', 'deploy', 'lint', 'notify', 'test'], steps: 5 },
  labels: { jobs: ['woodpecker'], steps: 1 },
  when: { jobs: ['woodpecker'], steps: 10 },
  evaluate: { jobs: ['woodpecker'], steps: 4, degraded: ['NESTOR_EXPRESSION_UNSUPPORTED'] },
  'merge-keys': { jobs: ['woodpecker'], steps: 3 },
  plugins: { jobs: ['woodpecker'], steps: 3 },
  services: { jobs: ['woodpecker'], steps: 2 },
  clone: { jobs: ['woodpecker'], steps: 1 },
  'skip-clone': { jobs: ['woodpecker'], steps: 1 },
  matrix: { jobs: ['woodpecker (PYTHON=3.11, DATABASE=postgres:15)', 'woodpecker (PYTHON=3.12, DATABASE=postgres:16)', 'woodpecker (PYTHON=3.13, DATABASE=postgres:16)'], steps: 6 },
  group: { jobs: ['woodpecker'], steps: 4 },
  'backend-options': { jobs: ['woodpecker'], steps: 2, degraded: ['NESTOR_BACKEND_OPTIONS_IGNORED'] },
  dind: { jobs: ['woodpecker'], steps: 1 },
  large: { jobs: ['woodpecker'], steps: 21 },
  'workflows-dotfiles': { jobs: ['build', 'deploy'], steps: 2 },
  'labels-empty': { jobs: ['woodpecker'], steps: 1 },
  'platform-deprecated': { jobs: ['woodpecker'], steps: 1 },
  'path-on-empty': { jobs: ['woodpecker'], steps: 1 },
  'sequence-merge': { jobs: ['woodpecker'], steps: 2 },
  'unnamed-steps': { jobs: ['woodpecker'], steps: 2 },
  'four-problems': {
    problems: ['4: unknown key "comands" in step build (did you mean "commands"?)', '11: step test depends on unknown step "biuld" (did you mean "build"?)', '15: Invalid option: expected one of "ignore"|"fail"', '19: required key "image" is missing in step cleanup'],
  },
};

const gaps = new Set(KNOWN_GAPS.map((g) => g.name));
const checked = () => Object.keys(EXPECTED).filter((n) => !gaps.has(n));
const compiling = () => checked().filter((n) => !EXPECTED[n]!.problems);

test('every Woodpecker fixture compiles, or fails with exactly its expected problems', () => {
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
    assert.deepEqual(plans.map((p) => p.name), want.jobs, name);
    assert.equal(plans.reduce((n, p) => n + p.steps.length, 0), want.steps, name);
    // A matrix repeats its workflow's notices in each job: each is counted once.
    const degraded = [...new Map(plans.flatMap((p) => p.notices).filter((n) => n.severity === 'degraded').map((n) => [`${n.file}:${n.line}:${n.code}`, n])).values()];
    assert.deepEqual(degraded.map((n) => n.code), want.degraded ?? [], `${name}: ${JSON.stringify(degraded)}`);
  }
});

/**
 * The keys woodpecker.ts reads, by path in a file (`*` a step's name or index, `#` an index,
 * `**` a free-form map). `variables` holds anchors, which Woodpecker itself reads nothing of;
 * `clone`'s steps and `backend_options` are named in notices.
 */
const FILTER = ['', '.include', '.exclude'];
const condition = (at: string) => [
  ...['branch', 'event', 'path', 'ref', 'repo', 'instance', 'cron'].flatMap((c) => FILTER.map((f) => `${at}.${c}${f}`)),
  `${at}.status`, `${at}.evaluate`, `${at}.matrix.**`, `${at}.path.on_empty`, `${at}.path.ignore_message`,
];
const when = (at: string) => [at, ...condition(at), ...condition(`${at}.#`)];
const CONTAINER = [
  '', '.name', '.image', '.commands', '.entrypoint', '.command', '.environment.**', '.secrets', '.secrets.#.source', '.secrets.#.target', '.privileged',
  '.volumes', '.detach', '.failure', '.depends_on', '.directory', '.network_mode', '.pull', '.ports', '.settings.**', '.group', '.user',
  '.backend_options.docker.user', ...when('.when'),
];
export const WOODPECKER_READ: readonly string[] = [
  'steps', 'pipeline', 'services', ...['steps', 'pipeline', 'services'].flatMap((list) => CONTAINER.map((k) => `${list}.*${k}`)),
  ...when('when'), 'matrix.**', 'labels.**', 'workspace', 'workspace.base', 'workspace.path', 'depends_on', 'runs_on', 'skip_clone', 'clone', 'variables.**', 'platform',
];

/** Each key of `file` that is neither read nor noticed, as `fixture/file: path`. */
function unaccountedIn(label: string, file: string, notices: readonly PipelineNotice[]): string[] {
  return documentsOf(file).flatMap((doc) => unaccounted(doc.value, WOODPECKER_READ, noticesAt(notices, file, doc)).map((path) => `${label}: ${path}`));
}

function workflowFiles(dir: string): string[] {
  const folder = join(dir, '.woodpecker');
  try {
    return readdirSync(folder).filter((f) => /\.ya?ml$/.test(f)).map((f) => join(folder, f));
  } catch {
    return [join(dir, '.woodpecker.yml')];
  }
}

test('every key of every Woodpecker fixture is read, or named in a notice at its place', () => {
  for (const name of compiling()) {
    const notices = fixture(name).flatMap((p) => p.notices);
    for (const file of workflowFiles(join(FIXTURES, name))) assert.deepEqual(unaccountedIn(name, file, notices), [], 'neither read nor noticed');
  }
});

test('the key walk names a key the reader neither reads nor notices, and not one a notice names', () => {
  // The reader checks each step's keys itself, so a planted key is checked against the walk alone.
  const doc = { steps: [{ image: 'alpine', comands: ['x'], backend_options: { kubernetes: { cpu: 1 } } }], clone: { git: { image: 'x', depth: 1 } }, variables: [{ a: 1 }] };
  const notices = [{ key: 'steps.0.backend_options', code: 'NESTOR_BACKEND_OPTIONS_IGNORED' }, { key: 'clone', code: 'NESTOR_CLONE_COPIED' }, { key: 'steps.0', code: 'NESTOR_SECRET_NEEDED' }] as const;
  assert.deepEqual(unaccounted(doc, WOODPECKER_READ, notices), ['steps.0.comands']);
  assert.deepEqual(unaccounted({ when: { platfrom: 'linux/amd64' }, labels: { a: 'b' } }, WOODPECKER_READ, []), ['when.platfrom']);
});

test('one step: a workflow with one step runs its commands in /woodpecker/src', () => {
  const p = only('one-step');
  const s = step(p, 'test');
  assert.deepEqual([s.image, s.commands, s.workingDir], ['python:3.12', ['pip install tox', 'tox'], '/woodpecker/src']);
  assert.equal(s.environment.CI_WORKSPACE, '/woodpecker/src');
});

test('steps as a list: depends_on (a name, a list, or none) makes the graph', () => {
  const p = only('steps-list');
  assert.deepEqual(p.steps.map((s) => [s.name, s.dependsOn]), [['deps', []], ['lint', ['deps']], ['test', ['deps']], ['build', ['lint', 'test']], ['audit', []]]);
});

test('steps as a map: each key names its step, in the order written; directory is the working directory', () => {
  const p = only('steps-map');
  assert.deepEqual(p.steps.map((s) => [s.name, s.dependsOn]), [['backend', []], ['frontend', ['backend']], ['build docs', ['frontend']]]);
  assert.deepEqual([step(p, 'backend').workingDir, step(p, 'frontend').workingDir], ['/woodpecker/src/server', '/woodpecker/src/web']);
  assert.deepEqual(step(p, 'build docs').commands, ['mkdocs build']);
});

test('workflows in .woodpecker/: each file a job, named by its file; depends_on and runs_on; skip_clone', () => {
  const plans = fixture('workflows');
  assert.deepEqual(plans.map((p) => [p.name, p.needs, p.runWhen]), [
    ['build', undefined, undefined],
    ['deploy', ['lint', 'test'], 'on_success'],
    ['lint', undefined, undefined],
    ['notify', ['deploy'], 'always'],
    ['test', ['build'], 'on_success'],
  ]);
  assert.deepEqual([plan(plans, 'notify').copySource, plan(plans, 'build').copySource], [false, true]);
  assert.match(step(plan(fixture('workflows', { branch: 'dev' }), 'deploy'), 'deploy').notRunBecause ?? '', /branch dev does not match main/);
});

test('labels are the runner labels the workflow asks for, the platform among them', () => {
  const p = only('labels');
  assert.deepEqual(p.runnerLabels, ['platform=linux/arm64', 'location=europe']);
  assert.deepEqual(p.notices.map((n) => [n.key, n.code, n.severity]), [['labels', 'NESTOR_RUNNER_LABELS', 'info']]);
});

test('when: event, branch with include and exclude, ref, cron, path, repo and instance, status; alternatives in a list', () => {
  assert.deepEqual(notRun(only('when')), ['version-tags', 'nightly', 'our-repo', 'either']);
  // Woodpecker does not apply branch conditions to tags: `releases` runs on a tag of main.
  assert.deepEqual(notRun(only('when', { event: 'tag', tag: 'v1.0.0' })), ['main-push', 'nightly', 'our-repo', 'either']);
  assert.deepEqual(notRun(only('when', { event: 'cron', facts: { cron: 'nightly-full' } })), ['main-push', 'version-tags', 'our-repo', 'either']);
  assert.ok(notRun(only('when', { branch: 'release/1.0.3' })).includes('releases'));
  assert.ok(!notRun(only('when', { branch: 'release/2.0' })).includes('releases'));
  assert.ok(!notRun(only('when', { branch: 'develop' })).includes('either'));
  assert.ok(!notRun(only('when', { facts: { repo: 'team/app', instance: 'ci.example.com' } })).includes('our-repo'));
  const docs = only('when', { changedPaths: ['docs/index.md'] });
  assert.deepEqual([step(docs, 'go-changes').notRunBecause !== undefined, step(docs, 'docs-changes').notRunBecause], [true, undefined]);
  assert.equal(step(only('when', { changedPaths: ['docs/x.go'] }), 'go-changes').notRunBecause !== undefined, true, 'excluded by docs/**');
  assert.deepEqual(step(only('when'), 'on-failure').runOn, ['failure']);
  assert.match(step(only('when', { event: 'deployment' }), 'build').notRunBecause ?? '', /the pipeline's conditions: event deployment does not match/);
});

test('evaluate: expressions on the run\'s variables decide, for the workflow and for each step; one Nestor cannot evaluate is said, and its step not run', () => {
  assert.deepEqual(notRun(only('evaluate')), ['semver-tags', 'by-date']);
  assert.deepEqual(notRun(only('evaluate', { event: 'tag', tag: 'v1.2.3' })), ['main-only', 'by-date']);
  assert.ok(notRun(only('evaluate', { event: 'tag', tag: 'v1.2.3-beta' })).includes('semver-tags'));
  assert.ok(notRun(only('evaluate', { changedPaths: ['README.md'] })).includes('go-files'));
  assert.ok(!notRun(only('evaluate', { changedPaths: ['cmd/main.go'] })).includes('go-files'));
  assert.match(step(only('evaluate', { event: 'cron' }), 'main-only').notRunBecause ?? '', /the pipeline's conditions/);
  const n = only('evaluate').notices.find((x) => x.code === 'NESTOR_EXPRESSION_UNSUPPORTED');
  assert.deepEqual([n?.key, n?.severity], ['steps.3.when.0.evaluate', 'degraded']);
});

test('variables: anchors, map merges of one (<<: *a) and of several (<<: [*a, *b]), overridden where written', () => {
  const p = only('merge-keys');
  assert.equal(step(p, 'build').image, 'golang:1.23');
  assert.deepEqual([step(p, 'build').environment.CGO_ENABLED, step(p, 'build').environment.GOOS], ['0', 'linux']);
  const up = step(p, 'upload');
  assert.deepEqual([up.environment.PLUGIN_BUCKET, up.environment.PLUGIN_REGION, up.environment.PLUGIN_TARGET], ['artifacts', 'eu-west-1', '/builds']);
  assert.deepEqual(up.secrets.map((s) => s.env).sort(), ['PLUGIN_ACCESS_KEY', 'PLUGIN_SECRET_KEY']);
  assert.deepEqual([step(p, 'upload-mirror').environment.PLUGIN_REGION, step(p, 'upload-mirror').secrets], ['us-east-1', []]);
});

test('plugins: settings as PLUGIN_* (lists joined, lists of maps as JSON with their secrets kept out), the buildx plugin gets the job engine', () => {
  const p = only('plugins');
  const image = step(p, 'image');
  assert.equal(image.script, undefined);
  assert.equal(image.environment.PLUGIN_PLATFORMS, 'linux/amd64,linux/arm64');
  assert.match(image.environment.PLUGIN_TAGS ?? '', /^latest,/);
  assert.deepEqual(JSON.parse(image.environment.PLUGIN_LOGINS!).map((l: { registry: string }) => l.registry), ['https://index.docker.io/v1/', 'https://quay.io']);
  assert.equal(image.environment.PLUGIN_DAEMON_OFF, 'true');
  assert.deepEqual(step(p, 'release').secrets, [{ name: 'forge_token', env: 'PLUGIN_API_KEY' }]);
  assert.equal(step(p, 'notify').environment.PLUGIN_HEADERS, '{"X-Source":"woodpecker"}');
});

test('services as a map, with their ports; a detached step runs beside the others', () => {
  const p = only('services');
  assert.deepEqual(p.services.map((s) => [s.name, s.image, s.ports]), [['database', 'mariadb:11', [3306]], ['cache', 'redis:7-alpine', [6379]]]);
  assert.equal(step(p, 'mock').detach, true);
  assert.deepEqual(step(p, 'test').secrets, [{ name: 'api_token', env: 'API_TOKEN' }]);
});

test('clone: Woodpecker\'s git plugin with its settings is said to be replaced by a copy of the checkout; skip_clone starts empty', () => {
  const cloned = only('clone');
  assert.deepEqual([cloned.copySource, cloned.notices.map((n) => [n.key, n.code, n.severity])], [true, [['clone', 'NESTOR_CLONE_COPIED', 'info']]]);
  assert.deepEqual([only('skip-clone').copySource, only('skip-clone').notices], [false, []]);
});

// Left out while the fixture is a known gap; it is what Woodpecker does with the fixture.
test('matrix include: one job per entry, ${VAR} in images, when: matrix picks the jobs a step runs in', () => {
  const plans = fixture('matrix');
  assert.deepEqual(plans.map((p) => [p.matrix.PYTHON, step(p, 'test').image, p.services[0]!.image]), [['3.11', 'python:3.11', 'postgres:15'], ['3.12', 'python:3.12', 'postgres:16'], ['3.13', 'python:3.13', 'postgres:16']]);
  assert.deepEqual(plans.map((p) => step(p, 'coverage').notRunBecause === undefined), [false, false, true]);
});

test('group: adjacent steps of one group run together, after the step before them', () => {
  const p = only('group');
  assert.deepEqual(p.steps.map((s) => [s.name, s.dependsOn]), [['prepare', []], ['build-x64', ['prepare']], ['build-x86', ['prepare']], ['package', ['build-x64', 'build-x86']]]);
});

test('backend_options: the Docker backend\'s user is the step\'s user; the Kubernetes backend\'s options are said not to apply', () => {
  const p = only('backend-options');
  assert.equal(step(p, 'lint').user, '1000:1000');
  assert.equal(step(p, 'heavy-test').user, undefined);
  assert.deepEqual(p.notices.map((n) => [n.key, n.code, n.severity]), [['steps.0.backend_options', 'NESTOR_BACKEND_USER', 'info'], ['steps.1.backend_options', 'NESTOR_BACKEND_OPTIONS_IGNORED', 'degraded']]);
  assert.match(p.notices[1]!.message, /kubernetes/);
});

test('a dind service on tcp://docker:2375 without TLS is the job\'s engine, answering plain', () => {
  const p = only('dind');
  assert.deepEqual([p.plainEngine, p.engineAliases, p.services], [true, ['docker'], []]);
  assert.deepEqual([step(p, 'build').environment.DOCKER_HOST, step(p, 'build').engine.plain], ['tcp://docker:2375', true]);
});

test('a large workflow: twenty-one steps in a graph, services, anchors for images and conditions, a failure notice step', () => {
  const p = only('large');
  assert.deepEqual(p.services.map((s) => s.name), ['postgres', 'redis']);
  assert.deepEqual(step(p, 'binaries').dependsOn, ['go-vet', 'go-unit', 'go-integration', 'web-build']);
  assert.deepEqual([step(p, 'web-lint').image, step(p, 'go-unit').image], ['node:22-alpine', 'golang:1.23-alpine']);
  assert.deepEqual(notRun(p), ['image-dryrun', 'release-notes', 'release']);
  assert.deepEqual(notRun(only('large', { event: 'pull_request', branch: 'topic' })), ['image', 'release-notes', 'release', 'docs-publish']);
  assert.deepEqual([step(p, 'notify-failure').runOn, step(p, 'e2e').ignoreFailure], [['failure'], true]);
});

test('workflow files with a leading dot are named without it, as Woodpecker names them', () => {
  const plans = fixture('workflows-dotfiles');
  assert.deepEqual(plans.map((p) => [p.pipeline, p.needs ?? []]), [['build', []], ['deploy', ['build']]]);
});

test('labels: an empty one asks for nothing; the old workflow platform: is labels.platform', () => {
  assert.deepEqual(only('labels-empty').runnerLabels, ['location=europe']);
  const p = only('platform-deprecated');
  assert.deepEqual(p.runnerLabels, ['platform=linux/arm64']);
  assert.deepEqual(p.notices.filter((n) => n.code === 'NESTOR_PLATFORM_LABEL').map((n) => n.severity), ['info']);
});

test('path: matched over the whole change set; on_empty decides for no change; ignore_message lets a commit through', () => {
  const runs = (extra: Partial<CompileOptions>) => only('path-on-empty', extra).steps[0]!.notRunBecause;
  assert.equal(runs({ changedPaths: ['docs/index.md', 'main.go'] }), undefined);
  assert.match(runs({ changedPaths: ['main.go'] }) ?? '', /no changed file matches docs\/\*\*, mkdocs\.yml/);
  assert.match(runs({ changedPaths: [] }) ?? '', /on_empty is false/);
  assert.equal(runs({ changedPaths: ['main.go'], facts: { message: 'bump everything [ALL]' } }), undefined);
  assert.equal(runs({}), undefined, 'changes not known: every path filter passes');
  // Excluded only when every changed file is, as Woodpecker reads exclude.
  const text = 'steps:\n  - name: a\n    image: busybox\n    commands: [echo]\n    when:\n      path:\n        include: ["**/*.go"]\n        exclude: ["docs/**"]\n';
  const dir = mkdtempSync(join(tmpdir(), 'nestor-wp-path-'));
  writeFileSync(join(dir, '.woodpecker.yml'), text);
  const step0 = (changedPaths: string[]) => loadPlans(dir, undefined, { ...opts, changedPaths })[0]!.steps[0]!.notRunBecause;
  assert.equal(step0(['docs/a.go', 'README.txt']), undefined);
  assert.match(step0(['docs/a.go', 'docs/b.md']) ?? '', /every changed file matches docs\/\*\*/);
});

test('list merges: an item <<: *list (or <<: [*a, *b]) is replaced by the lists\' items, as Woodpecker\'s YAML reader does', () => {
  const p = only('sequence-merge');
  assert.deepEqual(p.steps.map((s) => s.commands), [
    ['apk add --no-cache make git', 'make test', 'make clean'],
    ['apk add --no-cache make git', 'make clean', 'make build'],
  ]);
});

test('unnamed list steps are step-0, step-1, … as Woodpecker names them', () => {
  const p = only('unnamed-steps');
  assert.deepEqual(p.steps.map((s) => [s.name, s.dependsOn]), [['step-0', []], ['step-1', ['step-0']]]);
});

test('a workflow for Windows runners (labels.platform) is listed as not run here, saying why', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nestor-wp-win-'));
  writeFileSync(join(dir, '.woodpecker.yml'), 'labels:\n  platform: windows/amd64\nsteps:\n  - name: build\n    image: mcr.microsoft.com/windows/servercore\n    commands: [dir]\n');
  const [p] = loadPlans(dir, undefined, opts);
  assert.deepEqual(p!.notices.filter((n) => n.severity === 'degraded').map((n) => n.code), ['NESTOR_PLATFORM_UNAVAILABLE']);
  assert.match(p!.steps[0]!.notRunBecause ?? '', /platform windows\/amd64: Nestor runs Linux containers/);
});

test("when: platform is matched against the platform of the machine that runs the job", async () => {
  const { hostPlatform } = await import('../platform.ts');
  const dir = mkdtempSync(join(tmpdir(), 'nestor-wp-platform-'));
  writeFileSync(join(dir, '.woodpecker.yml'), `steps:\n  - name: here\n    image: busybox\n    commands: [uname -m]\n    when:\n      platform: ${hostPlatform()}\n  - name: elsewhere\n    image: busybox\n    commands: [uname -m]\n    when:\n      platform: [linux/s390x, windows/*]\n`);
  const [p] = loadPlans(dir, undefined, opts);
  assert.equal(step(p!, 'here').notRunBecause, undefined);
  assert.match(step(p!, 'elsewhere').notRunBecause ?? '', new RegExp(`platform ${hostPlatform()} does not match linux/s390x, windows/\\*`));
  assert.deepEqual(p!.notices.filter((n) => n.severity === 'degraded'), []);
});

test("a matrix entry's values are expanded in every string of its job, as Woodpecker expands the file per entry; $${...} stays the shell's", () => {
  const dir = mkdtempSync(join(tmpdir(), 'nestor-wp-axes-'));
  writeFileSync(join(dir, '.woodpecker.yml'), "matrix:\n  GO: ['1.22', '1.24']\nsteps:\n  test:\n    image: busybox\n    environment:\n      OUT: cover_${GO}.out\n    commands:\n      - echo 'go ${GO}' $${HOME}\n");
  const plans = loadPlans(dir, undefined, opts);
  assert.deepEqual(plans.map((p) => [p.steps[0]!.environment.OUT, p.steps[0]!.commands]), [
    ['cover_1.22.out', ["echo 'go 1.22' ${HOME}"]],
    ['cover_1.24.out', ["echo 'go 1.24' ${HOME}"]],
  ]);
});
