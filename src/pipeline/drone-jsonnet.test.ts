import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { PipelineError, UnsupportedFeatureError } from './errors.ts';
import { JsonnetMissingError, jsonnetSources } from './formats/drone-jsonnet.ts';
import { PipelineLimitError, pipelineLimits } from './limits.ts';
import { compileText, discover, loadPlans, readPipelines } from './load.ts';
import type { CompileOptions } from './compile.ts';

// The real jsonnet, which the set-up installs (scripts/ensure-env.sh); without it these fail, never skip.

const opts: CompileOptions = { defaultImage: 'busybox:latest', branch: 'main', event: 'push' };

function repo(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'nestor-jsonnet-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

function refusal(work: () => unknown): PipelineError {
  try {
    work();
  } catch (err) {
    assert.ok(err instanceof PipelineError, `expected a PipelineError, got ${String(err)}`);
    return err;
  }
  assert.fail('the pipeline was accepted');
}

const TWO = `local step(name, cmd) = { name: name, image: 'alpine', commands: [cmd] };
local pipeline(name, deps=[]) = {
  kind: 'pipeline',
  type: 'docker',
  name: name,
  steps: [step('test', 'echo ' + std.extVar('build.branch') + ' ' + std.extVar('build.event'))],
  depends_on: deps,
};
[
  pipeline('build'),
  pipeline('deploy', ['build']),
  { kind: 'secret', name: 'token', get: { path: 'x', name: 'y' } },
]
`;

test('a .drone.jsonnet of two pipelines is read as a .drone.yml of them: a job each, depends_on, Drone\'s external variables', () => {
  const plans = compileText({ file: '.drone.jsonnet', text: TWO }, { ...opts, branch: 'feature' });
  assert.deepEqual(plans.map((p) => [p.pipeline, p.needs ?? []]), [['build', []], ['deploy', ['build']]]);
  assert.deepEqual(plans[0]!.steps[0]!.commands, ['echo feature push']);
  assert.equal(plans[0]!.workspace, '/drone/src');
  // An unknown pipeline in depends_on is the usual problem, at the line of the pipeline's name.
  const wrong = refusal(() => compileText({ file: '.drone.jsonnet', text: TWO.replace("['build']", "['biuld']") }, opts));
  assert.match(wrong.message, /^\.drone\.jsonnet:11:\d+: pipeline deploy depends on biuld.*did you mean "build"/);
});

test('a problem in an evaluated document names its pipeline and key, at the line that names the pipeline', () => {
  const text = "local p(name) = {\n  kind: 'pipeline',\n  name: name,\n  steps: [{ name: 'test', imgae: 'alpine' }],\n};\n[\n  p('a'),\n  p('b'),\n]\n";
  const err = refusal(() => compileText({ file: '.drone.jsonnet', text }, opts));
  assert.deepEqual(err.problems.map((p) => [p.position.line, p.message.replace(/ \(did.*/, '')]), [
    [7, 'pipeline a, steps.0.imgae: unknown key "imgae" in step test'],
    [8, 'pipeline b, steps.0.imgae: unknown key "imgae" in step test'],
  ]);
  // One pipeline written out: the key itself is found.
  const one = refusal(() => compileText({ file: '.drone.jsonnet', text: "{\n  kind: 'pipeline',\n  name: 'x',\n  steps: [\n    { name: 's',\n      imgae: 'alpine' },\n  ],\n}\n" }, opts));
  assert.deepEqual(one.problems.map((p) => `${p.position.line}:${p.position.column}`), ['6:7']);
});

test('a top-level function(ctx) is called with Starlark\'s ctx, and a notice says Drone would not', () => {
  const text = "function(ctx) {\n  kind: 'pipeline',\n  name: 'p',\n  steps: [{ name: 's', image: 'alpine', commands: ['echo ' + ctx.build.branch + ' ' + ctx.repo.slug] }],\n}\n";
  const [plan] = compileText({ file: '.drone.jsonnet', text }, { ...opts, branch: 'dev', facts: { repo: 'team/app' } });
  assert.deepEqual(plan!.steps[0]!.commands, ['echo dev team/app']);
  const notice = plan!.notices.find((n) => n.code === 'NESTOR_JSONNET_CTX');
  assert.ok(notice, JSON.stringify(plan!.notices));
  assert.deepEqual([notice.line, notice.column, notice.severity], [1, 1, 'info']);
  // A function with defaults is called as Drone calls it, with nothing.
  const [plain] = compileText({ file: '.drone.jsonnet', text: "function(image='alpine') { kind: 'pipeline', name: 'p', steps: [{ name: 's', image: image, commands: ['true'] }] }" }, opts);
  assert.equal(plain!.steps[0]!.image, 'alpine');
  assert.ok(!plain!.notices.some((n) => n.code === 'NESTOR_JSONNET_CTX'));
});

test('a Jsonnet syntax error is a problem at jsonnet\'s own file:line:column', () => {
  const err = refusal(() => compileText({ file: '.drone.jsonnet', text: "{\n  kind: 'pipeline',\n  steps: [\n    { name: 'a' image: 'x' },\n  ],\n}\n" }, opts));
  assert.equal(err.problems.length, 1);
  assert.match(err.message, /^\.drone\.jsonnet:4:17: Jsonnet syntax: /);
  assert.match(err.hint, /jsonnet -V build\.branch=main \.drone\.jsonnet/);
});

test('a Jsonnet runtime error (error "x") is a problem where it is raised, with the frames that led there', () => {
  const err = refusal(() => compileText({ file: '.drone.jsonnet', text: "local name() = error 'no name given';\n{\n  kind: 'pipeline',\n  name: name(),\n}\n" }, opts));
  assert.match(err.message, /^\.drone\.jsonnet:1:16: Jsonnet error: no name given \(from \.drone\.jsonnet:4:9\)/);
  const undefinedVar = refusal(() => compileText({ file: '.drone.jsonnet', text: "std.extVar('build.nope')" }, opts));
  assert.match(undefinedVar.message, /^\.drone\.jsonnet:1:1: Jsonnet error: undefined external variable: build\.nope/);
  // An error inside the standard library (std.format) is placed at the file's line that called it.
  const format = refusal(() => compileText({ file: '.drone.jsonnet', text: "{\n  kind: 'pipeline',\n  name: '%s-%s' % ['a'],\n}\n" }, opts));
  assert.match(format.message, /^\.drone\.jsonnet:3:\d+: Jsonnet error: Not enough values to format/);
});

test('imports inside the repository work, from the importing file\'s directory; an error in one is placed in it', () => {
  const dir = repo({
    '.drone.jsonnet': "local lib = import 'ci/lib.libsonnet';\n[lib.pipeline('build')]\n",
    'ci/lib.libsonnet': "local steps = import 'steps.libsonnet';\n{ pipeline(name):: { kind: 'pipeline', name: name, steps: steps + [{ name: 'v', image: 'alpine', commands: [importstr 'version.txt'] }] } }\n",
    'ci/steps.libsonnet': "[{ name: 'test', image: 'alpine', commands: ['make test'] }]\n",
    'ci/version.txt': '1.2.3',
  });
  const [plan] = loadPlans(dir, undefined, opts);
  assert.deepEqual(plan!.steps.map((s) => [s.name, s.commands]), [['test', ['make test']], ['v', ['1.2.3']]]);
  writeFileSync(join(dir, 'ci/steps.libsonnet'), "[\n  error 'broken step',\n]\n");
  const err = refusal(() => loadPlans(dir, undefined, opts));
  assert.equal(err.problems[0]!.position.file, join(dir, 'ci/steps.libsonnet'));
  assert.deepEqual([err.problems[0]!.position.line, err.problems[0]!.position.column], [2, 3]);
});

test('an import that leaves the repository is refused before jsonnet runs: .., an absolute path, a link out, a name not in it', () => {
  const outside = repo({ 'x.libsonnet': '{}', 'secret.txt': 'hunter2' });
  const dir = repo({ 'ok.libsonnet': '{}', 'ci/nested.libsonnet': "importstr '../../secret.txt'" });
  symlinkSync(outside, join(dir, 'out'));
  const text = [
    "local a = import '../x.libsonnet';",
    `local b = importstr '${join(outside, 'secret.txt')}';`,
    "local c = import 'out/x.libsonnet';",
    "local d = import 'nowhere.libsonnet';", // else read from jsonnet's library directories
    "local e = import 'ci/nested.libsonnet';",
    "local f = import 'ok.libsonnet'; // import 'ok.libsonnet' in a comment is checked too, and fine",
    '{}',
  ].join('\n');
  writeFileSync(join(dir, '.drone.jsonnet'), text);
  const err = refusal(() => loadPlans(dir, undefined, opts));
  assert.deepEqual(err.problems.map((p) => [p.position.file.endsWith('nested.libsonnet') ? 'nested' : 'main', p.position.line, p.code]), [
    ['main', 1, 'NESTOR_PATH_OUTSIDE_REPOSITORY'],
    ['main', 2, 'NESTOR_PATH_OUTSIDE_REPOSITORY'],
    ['main', 3, 'NESTOR_PATH_OUTSIDE_REPOSITORY'],
    ['main', 4, 'NESTOR_FILE_NOT_FOUND'],
    ['nested', 1, 'NESTOR_PATH_OUTSIDE_REPOSITORY'],
  ]);
  assert.match(err.problems[2]!.message, /through a symbolic link/);
  assert.ok(!err.message.includes('hunter2'));
  // Escapes and verbatim strings are decoded as jsonnet decodes them before they are checked.
  for (const written of ["import '\\u002e./x.libsonnet'", 'import @"../x.libsonnet"', 'import /* c */ "..\\/x.libsonnet"']) {
    writeFileSync(join(dir, '.drone.jsonnet'), written);
    assert.equal(refusal(() => loadPlans(dir, undefined, opts)).problems[0]!.code, 'NESTOR_PATH_OUTSIDE_REPOSITORY', written);
  }
  // A submitted text has no repository: no import at all.
  const submitted = refusal(() => compileText({ file: '.drone.jsonnet', text: "import 'ok.libsonnet'" }, opts));
  assert.match(submitted.message, /there is no repository to read it from/);
});

test('jsonnet is bounded: its time (compileMs), the bytes it makes, its memory', () => {
  const slow = refusal(() => compileText({ file: '.drone.jsonnet', text: 'local f(n) = if n == 0 then 0 else f(n - 1) + f(n - 1); f(40)' }, { ...opts, limits: { compileMs: 300 } }));
  assert.ok(slow instanceof PipelineLimitError && slow.limit.name === 'compileMs', slow.message);
  const big = "[{ kind: 'pipeline', name: 'p' + i, steps: [] } for i in std.range(1, 2000)]";
  const large = refusal(() => compileText({ file: '.drone.jsonnet', text: big }, { ...opts, limits: { bytes: 20_000 } }));
  assert.ok(large instanceof PipelineLimitError && large.limit.name === 'bytes', large.message);
  const flood = refusal(() => compileText({ file: '.drone.jsonnet', text: "std.repeat('x', 1000000)" }, { ...opts, limits: { bytes: 20_000 } }));
  assert.ok(flood instanceof PipelineLimitError && flood.limit.name === 'bytes', flood.message);
  const hungry = refusal(() => compileText({ file: '.drone.jsonnet', text: 'std.length(std.makeArray(100000000, function(i) i))' }, { ...opts, limits: { compileMemoryMb: 128 } }));
  assert.ok(hungry instanceof PipelineLimitError && hungry.limit.name === 'compileMemoryMb', hungry.message);
});

test('no jsonnet program: a NestorError that says to install Debian\'s jsonnet', () => {
  const input = { path: '.drone.jsonnet', text: '{}', displayPath: '.drone.jsonnet', facts: {}, limits: pipelineLimits(), program: 'jsonnet-not-installed' };
  assert.throws(() => jsonnetSources(input), (err) => err instanceof JsonnetMissingError && err.code === 'NESTOR_JSONNET_MISSING' && /apt-get install jsonnet/.test(err.hint));
});

test('.drone.star is not evaluated: refused by name, with the drone CLI command that writes .drone.yml from it', () => {
  const err = refusal(() => readPipelines('.drone.star', '# build\ndef main(ctx):\n  return {}\n', opts));
  assert.ok(err instanceof UnsupportedFeatureError);
  assert.equal(err.code, 'NESTOR_PIPELINE_UNSUPPORTED');
  assert.match(err.message, /^\.drone\.star:2:1: \.drone\.star is a Drone Starlark script, which Nestor does not evaluate: .*drone starlark --source \.drone\.star --target \.drone\.yml/);
});

test('the conventional files: .drone.jsonnet before .drone.yml, .drone.star only when nothing else is there', () => {
  const both = repo({ '.drone.jsonnet': '{}', '.drone.yml': 'kind: pipeline\n', '.drone.star': '' });
  assert.deepEqual(discover(both), [join(both, '.drone.jsonnet')]);
  const star = repo({ '.drone.star': '', '.gitlab-ci.yml': 'a: {script: [x]}\n' });
  assert.deepEqual(discover(star), [join(star, '.gitlab-ci.yml')]);
  const alone = repo({ '.drone.star': '' });
  assert.deepEqual(discover(alone), [join(alone, '.drone.star')]);
});

test('${...} in the evaluated strings is expanded as Drone expands it, $${...} left to the shell', () => {
  const text = "[{ kind: 'pipeline', name: 'p', steps: [{ name: 'a', image: 'alpine', commands: ['echo ${DRONE_COMMIT_SHA:0:4} ${DRONE_BRANCH^^} $${HOME}'] }] }]\n";
  const [plan] = compileText({ file: '.drone.jsonnet', text }, { ...opts, commit: 'abcdef0123' });
  assert.deepEqual(plan!.steps[0]!.commands, ['echo abcd MAIN ${HOME}']);
});
