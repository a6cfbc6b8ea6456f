import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { PipelineError, type PipelineNotice } from './errors.ts';
import { JOB_KEYS, KEYWORDS } from './formats/gitlab-schema.ts';
import type { IncludeSource } from './include-fetch.ts';
import { loadPlans } from './load.ts';
import { asOneJob } from './jobs-as-one.test-helper.ts';
import { failureOf, stepOf } from './fixture-walk.test-helper.ts';
import type { JobPlan, PlanStep } from './plan.ts';
import type { CompileOptions } from './compile.ts';

/** GitLab files, read as GitLab reads them: the fixtures of test/fixtures/gitlab and one test per feature. */

const FIXTURES = join(import.meta.dirname, '..', '..', 'test', 'fixtures', 'gitlab');
const opts: CompileOptions = { defaultImage: 'busybox:latest', branch: 'main', event: 'push' };

function load(dir: string, extra: Partial<CompileOptions> = {}): JobPlan {
  const plans = asOneJob(loadPlans(dir, '.gitlab-ci.yml', { ...opts, ...extra }));
  assert.equal(plans.length, 1);
  return plans[0]!;
}
const fixture = (name: string, extra: Partial<CompileOptions> = {}) => load(join(FIXTURES, name), extra);
const step = stepOf;
const failure = failureOf;
const repo = (files: Record<string, string>): string => {
  const dir = mkdtempSync(join(tmpdir(), 'nestor-gitlab-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
};
const degraded = (plan: JobPlan) => plan.notices.filter((n) => n.severity === 'degraded').map((n) => n.code);

/** What each fixture compiles to: its steps, or the exact problems (line: message start). */
const EXPECTED: Record<string, { steps?: number; degraded?: string[]; problems?: string[] }> = {
  'one-job': { steps: 1 },
  'job-names': { steps: 3 },
  'stages-needs': { steps: 4 },
  variables: { steps: 1 },
  rules: { steps: 2 },
  'only-except': { steps: 3 },
  parallel: { steps: 8 },
  when: { steps: 7 },
  'images-services': { steps: 2 },
  'scripts-reference': { steps: 2 },
  'default-extends': { steps: 2 },
  workflow: { steps: 1 },
  'include-local': { steps: 3 },
  template: { steps: 2, degraded: ['NESTOR_REMOTE_UNREACHABLE', 'NESTOR_REMOTE_UNREACHABLE', 'NESTOR_REMOTE_UNREACHABLE'] },
  'trigger-child': { steps: 3 },
  recorded: { steps: 1 },
  platform: { steps: 3, degraded: ['NESTOR_PLATFORM_UNAVAILABLE', 'NESTOR_PLATFORM_UNAVAILABLE'] },
  'repeated-keys': { steps: 1 },
  large: { steps: 11 },
  'five-problems': {
    problems: [
      '3: job build uses stage "biuld"',
      '6: unknown key "scirpt" in job test (did you mean "script"?)',
      '9: job lint needs unknown job "tset"',
      '12: Invalid option',
      '14: job docs extends unknown job ".nowhere"',
    ],
  },
};

test('every GitLab fixture compiles, or fails with exactly its expected problems', () => {
  const names = readdirSync(FIXTURES).filter((n) => statSync(join(FIXTURES, n)).isDirectory()).sort();
  assert.ok(names.length >= 15, `${names.length} fixtures`);
  assert.deepEqual(names, Object.keys(EXPECTED).sort());
  for (const name of names) {
    const want = EXPECTED[name]!;
    if (want.problems) {
      const err = failure(() => fixture(name));
      assert.deepEqual(err.problems.map((p) => `${p.position.line}: ${p.message}`).map((m, i) => m.slice(0, want.problems![i]?.length)), want.problems, name);
      continue;
    }
    const plan = fixture(name);
    assert.equal(plan.steps.length, want.steps, `${name}: ${plan.steps.map((s) => s.name).join(', ')}`);
    assert.deepEqual(degraded(plan), want.degraded ?? [], `${name}: ${JSON.stringify(plan.notices.filter((n) => n.severity === 'degraded'))}`);
  }
});

test('every key of every fixture is read, or named in a notice at its place', () => {
  const read = new Set(JOB_KEYS);
  for (const name of Object.keys(EXPECTED).filter((n) => !EXPECTED[n]!.problems)) {
    const dir = join(FIXTURES, name);
    const plan = fixture(name);
    const noticed = new Set(plan.notices.map((n) => n.key));
    const files = [join(dir, '.gitlab-ci.yml'), ...walkFiles(join(dir, 'ci'))];
    for (const file of files) {
      const doc = parse(readFileSync(file, 'utf8'), { merge: true, uniqueKeys: false, customTags: [{ tag: '!reference', collection: 'seq', resolve: (s: unknown) => s }], logLevel: 'silent' }) as Record<string, unknown>;
      for (const [top, value] of Object.entries(doc ?? {})) {
        if (KEYWORDS.includes(top)) continue;
        if (top.startsWith('.') || typeof value !== 'object' || value === null) continue;
        for (const key of Object.keys(value)) {
          if (key === '<<') continue;
          assert.ok(read.has(key), `${name}: ${top}.${key} is neither read nor noticed`);
        }
      }
    }
    // The keys that are recorded or not done say so, at the job that writes them.
    for (const key of ['cache', 'environment', 'resource_group', 'interruptible', 'coverage', 'tags', 'retry', 'artifacts', 'dependencies']) {
      for (const s of plan.steps) {
        const written = (parse(readFileSync(join(dir, '.gitlab-ci.yml'), 'utf8'), { merge: true, uniqueKeys: false, logLevel: 'silent', customTags: [{ tag: '!reference', collection: 'seq', resolve: (x: unknown) => x }] }) as Record<string, Record<string, unknown>>)[s.name]?.[key];
        if (written !== undefined) assert.ok(noticed.has(`${s.name}.${key}`), `${name}: ${s.name}.${key} has no notice`);
      }
    }
  }
});

function walkFiles(dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile() && e.name.endsWith('.yml')).map((e) => join(e.parentPath, e.name));
  } catch {
    return [];
  }
}

test('job names with any character GitLab allows, and the order stages and needs give', () => {
  const plan = fixture('job-names');
  assert.deepEqual(plan.steps.map((s) => [s.name, s.dependsOn]), [['build image', []], ['test:unit', ['build image']], ['test:lint', ['build image']]]);
  const needs = fixture('stages-needs');
  assert.deepEqual(step(needs, 'unit').dependsOn, ['compile']);
  assert.deepEqual(step(needs, 'docs').dependsOn, []);
  assert.deepEqual(step(needs, 'package').dependsOn, ['compile']);
  assert.deepEqual(step(needs, 'package').recorded?.dependencies, ['compile']);
  assert.deepEqual((step(needs, 'compile').recorded?.artifacts as { paths: string[] }).paths, ['out/']);
});

test('variables in every form, expanded as GitLab does, with the predefined CI_* variables', () => {
  const plan = fixture('variables', { branch: 'Feature/X' });
  const env = { ...step(plan, 'say').environment };
  assert.equal(env.COUNT, '3');
  assert.equal(env.ENABLED, 'true');
  assert.equal(env.EMPTY, '');
  assert.equal(env.TARGET, 'staging');
  assert.equal(env.PATTERN, '$GREETING-raw');
  assert.equal(env.FULL, 'hello staging world');
  assert.equal(env.LOCAL, 'hello staging world!');
  assert.equal(env.CI_COMMIT_BRANCH, 'Feature/X');
  assert.equal(env.CI_COMMIT_REF_SLUG, 'feature-x');
  for (const k of ['CI_PROJECT_DIR', 'CI_COMMIT_SHA', 'CI_COMMIT_REF_NAME', 'CI_DEFAULT_BRANCH', 'CI_PIPELINE_SOURCE', 'CI_PIPELINE_ID', 'CI_JOB_ID', 'CI_JOB_NAME', 'CI_REGISTRY_IMAGE']) assert.ok(env[k] !== undefined, k);
  const mr = step(fixture('variables', { event: 'pull_request', branch: 'topic' }), 'say').environment;
  assert.equal(mr.CI_PIPELINE_SOURCE, 'merge_request_event');
  assert.equal(mr.CI_MERGE_REQUEST_SOURCE_BRANCH_NAME, 'topic');
  assert.equal(mr.CI_COMMIT_BRANCH, undefined);
  const err = failure(() => load(repo({ '.gitlab-ci.yml': 'variables:\n  T:\n    value: dev\n    options: [staging, production]\nj:\n  script: [x]\n' })));
  assert.match(err.message, /:3:5: variable T: the value "dev" is not one of its options/);
});

test('rules: if with ==, !=, =~, !~, &&, || and parentheses; changes, exists, when, allow_failure and variables', () => {
  const main = fixture('rules', { branch: 'main' });
  assert.equal(step(main, 'deploy').notRunBecause, undefined);
  assert.equal(step(main, 'deploy').environment.DEPLOY_ENV, 'production');
  assert.match(step(fixture('rules', { branch: 'wip-1' }), 'deploy').notRunBecause ?? '', /no rule matches/);
  const feature = step(fixture('rules', { branch: 'FEATURE/x' }), 'deploy');
  assert.match(feature.notRunBecause ?? '', /manual/);
  assert.match(step(fixture('rules', { event: 'pull_request', branch: 'main' }), 'deploy').notRunBecause ?? '', /when: never/);
  // changes: no changed file matches; exists: the Makefile is there.
  const test1 = step(fixture('rules', { changedPaths: ['README.md'] }), 'test');
  assert.equal(test1.notRunBecause, undefined);
  assert.match(test1.recorded?.decidedBy ?? '', /rule 2/);
});

test('only/except: refs, keywords, patterns, variables and changes', () => {
  assert.equal(step(fixture('only-except', { branch: 'release-1.2' }), 'build').notRunBecause, undefined);
  assert.match(step(fixture('only-except', { branch: 'dev' }), 'build').notRunBecause ?? '', /only:/);
  assert.equal(step(fixture('only-except', { event: 'tag', tag: 'v1' }), 'build').notRunBecause, undefined);
  assert.match(step(fixture('only-except', { event: 'tag', tag: 'v1' }), 'lint').notRunBecause ?? '', /except/);
  assert.match(step(fixture('only-except'), 'nightly').notRunBecause ?? '', /only/);
  assert.equal(step(fixture('only-except', { event: 'cron', env: {} }), 'nightly').notRunBecause !== undefined, true);
});

test('parallel: N and parallel: matrix make one step per instance, and needs can pick one', () => {
  const plan = fixture('parallel');
  assert.deepEqual(plan.steps.map((s) => s.name), ['shard 1/3', 'shard 2/3', 'shard 3/3', 'matrix: [3.11, postgres]', 'matrix: [3.12, postgres]', 'matrix: [3.13, sqlite]', 'matrix: [3.13, mysql]', 'report']);
  assert.equal(step(plan, 'shard 2/3').environment.CI_NODE_INDEX, '2');
  assert.equal(step(plan, 'matrix: [3.13, mysql]').image, 'python:3.13');
  assert.deepEqual(step(plan, 'report').dependsOn, ['matrix: [3.12, postgres]']);
});

test('when, allow_failure with exit_codes, retry and timeout', () => {
  const plan = fixture('when');
  assert.equal(step(plan, 'build').timeoutMs, 5400_000);
  assert.deepEqual(step(plan, 'build').recorded?.retry, { max: 2, when: ['runner_system_failure', 'stuck_or_timeout_failure'] });
  assert.match(step(plan, 'flaky').script ?? '', /case \$nestor_rc in 137\|255\)/);
  assert.equal(step(plan, 'flaky').ignoreFailure, false);
  assert.deepEqual(step(plan, 'cleanup').runOn, ['success', 'failure']);
  assert.deepEqual(step(plan, 'notify').runOn, ['failure']);
  assert.match(step(plan, 'release').notRunBecause ?? '', /manual/);
  assert.deepEqual(step(plan, 'later').commands?.[0], 'sleep 30');
  assert.equal(step(plan, 'later').recorded?.startInSeconds, 30);
  assert.match(step(plan, 'off').notRunBecause ?? '', /never/);
});

test('image and services in their long forms; a dind service is the job\'s engine', () => {
  const plan = fixture('images-services');
  assert.equal(step(plan, 'integration').image, 'golang:1.23');
  assert.equal(step(plan, 'docker').image, 'docker:27');
  const pg = plan.services.find((s) => s.image === 'postgres:16')!;
  assert.deepEqual([pg.name, pg.aliases.includes('database'), pg.environment.POSTGRES_PASSWORD], ['db', true, 'secret']);
  assert.deepEqual(plan.services.find((s) => s.image === 'redis:7')!.command, ['redis-server', '--appendonly', 'yes']);
  assert.deepEqual(plan.engineAliases, ['docker']);
});

test('!reference tags, anchors, merge keys and nested script lists', () => {
  const plan = fixture('scripts-reference');
  assert.deepEqual(step(plan, 'build').commands, ['echo common', 'apt-get update', 'apt-get install -y make', 'make', 'make install']);
  assert.deepEqual(step(plan, 'test').commands, ['echo common', 'apt-get update', 'apt-get install -y make', 'make test', 'echo done']);
  assert.equal(step(plan, 'test').environment.MODE, 'fast');
  const err = failure(() => load(repo({ '.gitlab-ci.yml': 'j:\n  script:\n    - !reference [.nothing, script]\n' })));
  assert.match(err.message, /:3:18: !reference \[\.nothing, script\] names nothing in the file/);
});

test('default:, extends over several levels, hidden jobs and inherit', () => {
  const plan = fixture('default-extends');
  const spec = step(plan, 'rspec');
  assert.equal(spec.image, 'ruby:3.3');
  assert.deepEqual(spec.commands, ['bundle install', 'rake spec']);
  assert.deepEqual([spec.environment.LEVEL, spec.environment.EXTRA], ['middle', 'yes']);
  assert.deepEqual(spec.recorded?.tags, ['docker']);
  const plain = step(plan, 'plain');
  assert.deepEqual([plain.image, plain.commands, plain.recorded?.tags], ['alpine', ['echo plain'], undefined]);
});

test('workflow: rules decide whether the pipeline runs and add variables; workflow: name titles it', () => {
  const plan = fixture('workflow', { branch: 'main' });
  assert.equal(plan.title, 'Pipeline for main');
  assert.equal(step(plan, 'build').environment.FROM_WORKFLOW ?? plan.steps[0]!.environment.FROM_WORKFLOW, 'branch');
  assert.match(step(fixture('workflow', { event: 'tag', tag: 'v1' }), 'build').notRunBecause ?? '', /workflow: no rule matches/);
});

test('include: local with globs and nested includes, each problem and job at its own file', () => {
  const plan = fixture('include-local');
  assert.deepEqual(plan.steps.map((s) => [s.name, s.image, s.commands]), [
    ['build', 'alpine:3.20', ['echo "building $APP"', 'make']],
    ['test', 'alpine:3.20', ['echo "building $APP"', 'make test']],
    ['extra', 'alpine:3.20', ['echo "building $APP"', 'echo extra']],
  ]);
  const dir = repo({ '.gitlab-ci.yml': 'include:\n  - local: ci/gone.yml\n  - local: ci/bad.yml\nj:\n  script: [x]\n', 'ci/bad.yml': 'k:\n  imag: x\n  script: [y]\n' });
  const err = failure(() => load(dir));
  assert.deepEqual(err.problems.map((p) => [p.position.file.endsWith('bad.yml') ? 'ci/bad.yml' : '.gitlab-ci.yml', p.position.line, p.code ?? err.code]), [
    ['.gitlab-ci.yml', 2, 'NESTOR_FILE_NOT_FOUND'],
    ['ci/bad.yml', 2, 'NESTOR_PIPELINE_INVALID'],
  ]);
});

test('include: template and component are named with how to vendor them; what they define is not a problem', () => {
  const plan = fixture('template');
  const notice = plan.notices.find((n) => n.key === 'include.0.template') as PipelineNotice;
  assert.match(notice.message, /template Jobs\/SAST\.gitlab-ci\.yml .*curl -o .*lib\/gitlab\/ci\/templates\/Jobs\/SAST\.gitlab-ci\.yml.*local:/);
  assert.equal(notice.code, 'NESTOR_REMOTE_UNREACHABLE');
  assert.match(step(plan, 'sast').notRunBecause ?? '', /not in the file/);
});

test('include: project from a Git server (a local bare repository) and remote from an HTTPS-like server, only from allowed hosts', async () => {
  const base = mkdtempSync(join(tmpdir(), 'nestor-git-'));
  const work = join(base, 'work');
  const git = (cwd: string, ...args: string[]) => assert.equal(spawnSync('git', args, { cwd, encoding: 'utf8' }).status, 0, args.join(' '));
  mkdirSync(work);
  git(work, 'init', '-q', '-b', 'main');
  mkdirSync(join(work, 'templates'));
  writeFileSync(join(work, 'templates', 'ci.yml'), '.shared:\n  image: alpine:3.20\n  script: [echo shared]\n');
  git(work, 'add', '.');
  git(work, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-qm', 'templates');
  mkdirSync(join(base, 'group'));
  git(base, 'clone', '-q', '--bare', work, join(base, 'group', 'templates.git'));
  // In a process of its own: the reader waits for its fetch synchronously.
  const server = spawn(process.execPath, ['-e', `require('node:http').createServer((q, s) => q.url === '/ci/remote.yml' ? s.end('remote-job:\\n  script: [echo remote]\\n') : s.writeHead(404).end()).listen(0, '127.0.0.1', function () { console.log(this.address().port) })`], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<number>((r) => server.stdout.once('data', (d: Buffer) => r(Number(String(d).trim()))));
  try {
    const text = `include:\n  - project: group/templates\n    ref: main\n    file: /templates/ci.yml\n  - remote: http://127.0.0.1:${port}/ci/remote.yml\nuse:\n  extends: .shared\n`;
    const dir = repo({ '.gitlab-ci.yml': text });
    const includes: Partial<IncludeSource> = { gitBase: `file://${base}`, allowedHosts: ['127.0.0.1'], allowPrivate: true, cacheDir: join(base, 'cache') };
    const plan = load(dir, { includes });
    assert.deepEqual(plan.steps.map((s) => [s.name, s.image, s.commands]), [['remote-job', 'busybox:latest', ['echo remote']], ['use', 'alpine:3.20', ['echo shared']]]);
    // Not allowed: the host is not listed, or it is private.
    const refused = load(dir, { includes: { ...includes, allowedHosts: [], cacheDir: join(base, 'cache2') } });
    assert.match(refused.notices.find((n) => n.key === 'include.1')?.message ?? '', /127\.0\.0\.1 is not among the hosts/);
    const privateRefused = load(dir, { includes: { ...includes, allowPrivate: false, cacheDir: join(base, 'cache3') } });
    assert.match(privateRefused.notices.find((n) => n.key === 'include.1')?.message ?? '', /only https URLs|private address/);
    assert.ok(privateRefused.notices.every((n) => n.severity === 'info' || n.code === 'NESTOR_REMOTE_UNREACHABLE'));
  } finally {
    server.kill();
    rmSync(base, { recursive: true, force: true });
  }
});

test('cache, environment, resource_group, interruptible, coverage and tags are recorded and said to be', () => {
  const plan = fixture('recorded');
  const r = step(plan, 'deploy').recorded!;
  assert.deepEqual([r.resourceGroup, r.interruptible, r.coverage, r.tags], ['production', false, '/Coverage: \\d+\\.\\d+%/', ['docker', 'linux']]);
  assert.deepEqual((r.environment as { name: string }).name, 'production');
  for (const key of ['cache', 'environment', 'resource_group', 'interruptible', 'coverage', 'tags']) {
    const n = plan.notices.find((x) => x.key === `deploy.${key}`);
    assert.ok(n && n.severity === 'info', key);
  }
});

test("a job's tags are the runner labels it asks for on a server, its alone", () => {
  const plans = loadPlans(join(FIXTURES, 'recorded'), '.gitlab-ci.yml', opts);
  const deploy = plans.find((p) => p.name === 'deploy')!;
  assert.deepEqual(deploy.runnerLabels, ['docker', 'linux']);
  assert.match(fixture('recorded').notices.find((x) => x.key === 'deploy.tags')!.message, /goes only to a runner that has them all/);
  const dir = repo({ '.gitlab-ci.yml': 'a:\n  tags: [gpu]\n  script: [nvidia-smi]\nb:\n  script: [echo]\n' });
  assert.deepEqual(loadPlans(dir, '.gitlab-ci.yml', opts).map((p) => [p.name, p.runnerLabels]), [['a', ['gpu']], ['b', undefined]]);
});

test('trigger: a child pipeline from a local file runs, its jobs after what the trigger job waited for; Windows and macOS jobs say why they do not run', () => {
  const plans = loadPlans(join(FIXTURES, 'trigger-child'), '.gitlab-ci.yml', opts);
  assert.deepEqual(plans.map((p) => [p.name, (p.after ?? []).map((a) => a.job)]), [['build', []], ['child > child-test', ['build']], ['child > child-lint', ['build']]]);
  assert.match(plans.flatMap((p) => p.notices).find((n) => n.code === 'NESTOR_CHILD_PIPELINE')?.message ?? '', /runs the child pipeline ci\/child\.yml: its 2 job\(s\)/);
  assert.ok(!plans.some((p) => p.notices.some((n) => n.code === 'NESTOR_CHILD_PIPELINE_NOT_RUN')));
  // strategy: depend: a later job waits for the whole child pipeline; without it, only for what the trigger waited for.
  const depend = (strategy: string) => repo({ '.gitlab-ci.yml': `stages: [build, kids, after]\nbuild:\n  stage: build\n  script: [make]\nkids:\n  stage: kids\n  trigger:\n    include: ci/child.yml\n${strategy}\nlast:\n  stage: after\n  script: [echo]\n`, 'ci/child.yml': 'one:\n  script: [a]\ntwo:\n  needs: [one]\n  script: [b]\n' });
  const last = (dir: string) => loadPlans(dir, '.gitlab-ci.yml', opts).find((p) => p.name === 'last')!.after!.map((a) => a.job);
  assert.deepEqual(last(depend('    strategy: depend')), ['build', 'kids > two']);
  assert.deepEqual(last(depend('')), ['build']);
  assert.deepEqual(loadPlans(depend(''), '.gitlab-ci.yml', opts).find((p) => p.name === 'kids > two')!.after, [{ job: 'kids > one' }]);
  const platform = fixture('platform');
  assert.match(step(platform, 'windows').notRunBecause ?? '', /Windows/);
  assert.match(step(platform, 'macos').notRunBecause ?? '', /macOS/);
  assert.equal(step(platform, 'linux').notRunBecause, undefined);
});

test('include rules: if and exists decide whether a file is included', () => {
  const dir = repo({
    '.gitlab-ci.yml': ['include:', '  - local: ci/main-only.yml', '    rules:', '      - if: $CI_COMMIT_BRANCH == "main"', '  - local: ci/node.yml', '    rules:', '      - exists: [package.json]', '  - local: ci/go.yml', '    rules:', '      - exists: [go.mod]', 'base:', '  script: [x]', ''].join('\n'),
    'ci/main-only.yml': 'release:\n  script: [release]\n',
    'ci/node.yml': 'npm:\n  script: [npm test]\n',
    'ci/go.yml': 'go:\n  script: [go test]\n',
    'package.json': '{}',
  });
  assert.deepEqual(load(dir, { branch: 'main' }).steps.map((s) => s.name), ['release', 'npm', 'base']);
  assert.deepEqual(load(dir, { branch: 'dev' }).steps.map((s) => s.name), ['npm', 'base']);
});

test('a job\'s variables may name its own CI_JOB_* variables; type is the old name of stage', () => {
  const plan = load(repo({ '.gitlab-ci.yml': 'stages: [build, test]\nunit:\n  type: build\n  variables:\n    KEY: cache-$CI_JOB_NAME-$CI_JOB_STAGE\n  script: [x]\n' }));
  assert.equal(step(plan, 'unit').environment.KEY, 'cache-unit-build');
});

test('variables that set GitLab Runner itself (GIT_DEPTH, FF_*) are named as such, for information', () => {
  const n = fixture('large').notices.find((x) => x.key === 'variables.GIT_DEPTH');
  assert.ok(n, 'no notice for GIT_DEPTH');
  assert.deepEqual([n.code, n.severity, n.line], ['NESTOR_RUNNER_SETTING', 'info', 4]);
});

test('include local paths are from the repository root, written with /, ./ or neither', () => {
  const dir = repo({ '.gitlab-ci.yml': 'include:\n  - /ci/a.yml\n  - ./ci/b.yml\n  - local: ./ci/c*.yml\n', 'ci/a.yml': 'a:\n  script: [a]\n', 'ci/b.yml': 'b:\n  script: [b]\n', 'ci/c1.yml': 'c:\n  script: [c]\n' });
  assert.deepEqual(load(dir).steps.map((s) => s.name), ['a', 'b', 'c']);
});
