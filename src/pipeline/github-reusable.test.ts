import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { CompileOptions } from './compile.ts';
import { failureOf } from './fixture-walk.test-helper.ts';
import { jobNotRunBecause, newJobState, prepareStep, scopeOf } from './github/step-runtime.ts';
import { loadPlans } from './load.ts';

/**
 * Reusable workflows beyond the fixtures: one fetched from a forge (a bare repository in a
 * temporary folder, as an operator's NESTOR_ACTIONS_URL names one), calls within calls, and
 * every mistake of a call said at its place, in the file it is written in.
 */

const opts: CompileOptions = { defaultImage: 'busybox:latest', branch: 'main', event: 'push' };

function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'nestor-reusable-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), text);
  }
  return dir;
}

/** A forge holding OWNER/REPO as a bare repository with `files`, tagged `tag`. */
function forge(owner: string, repo: string, files: Record<string, string>, tag: string): string {
  const work = folder(files);
  const base = mkdtempSync(join(tmpdir(), 'nestor-forge-'));
  const git = (cwd: string, ...args: string[]) => execFileSync('git', ['-c', 'user.email=ci@nestor.invalid', '-c', 'user.name=Nestor', ...args], { cwd, stdio: 'pipe' });
  git(work, 'init', '-q');
  git(work, 'add', '-A');
  git(work, 'commit', '-qm', 'shared workflows');
  git(work, 'tag', tag);
  mkdirSync(join(base, owner));
  git(base, 'clone', '-q', '--bare', work, join(base, owner, repo));
  rmSync(work, { recursive: true, force: true });
  return base;
}

const lines = (...l: string[]) => `${l.join('\n')}\n`;

test('a remote reusable workflow is fetched from the forge by commit and run; a ./ call in it is read from the same commit', () => {
  const base = forge('acme', 'shared', {
    '.github/workflows/lint.yml': lines(
      'on:',
      '  workflow_call:',
      '    inputs:',
      '      strict: {type: boolean, default: false}',
      '    secrets:',
      '      token: {required: true}',
      '    outputs:',
      '      verdict: {value: "${{ jobs.check.outputs.verdict }}"}',
      'jobs:',
      '  check:',
      '    runs-on: ubuntu-latest',
      '    outputs: {verdict: "${{ steps.v.outputs.verdict }}"}',
      '    steps:',
      '      - id: v',
      '        run: echo "verdict=strict-${{ inputs.strict }}" >> "$GITHUB_OUTPUT"',
      '  deeper:',
      '    needs: check',
      '    uses: ./.github/workflows/common.yml',
      '    with: {who: "${{ inputs.strict }}"}',
    ),
    '.github/workflows/common.yml': lines('on:', '  workflow_call:', '    inputs: {who: {type: string}}', 'jobs:', '  hello:', '    runs-on: ubuntu-latest', '    steps: [{run: "echo hello ${{ inputs.who }}"}]'),
  }, 'v1');
  const repo = folder({
    '.github/workflows/ci.yml': lines(
      'on: push',
      'jobs:',
      '  lint:',
      '    uses: acme/shared/.github/workflows/lint.yml@v1',
      '    with: {strict: true}',
      '    secrets: {token: "${{ secrets.TOKEN }}"}',
      '  after:',
      '    needs: lint',
      '    runs-on: ubuntu-latest',
      '    steps: [{run: "echo ${{ needs.lint.outputs.verdict }}"}]',
    ),
  });
  const cache = mkdtempSync(join(tmpdir(), 'nestor-reusable-cache-'));
  try {
    const plans = loadPlans(repo, undefined, { ...opts, includes: { actionsBase: `file://${base}`, cacheDir: cache } });
    assert.deepEqual(plans.map((p) => [p.name, p.needs]), [['lint / check', undefined], ['lint / deeper / hello', ['lint / check']], ['after', ['lint / check', 'lint / deeper / hello']]]);
    const commit = execFileSync('git', ['--git-dir', join(base, 'acme', 'shared'), 'rev-parse', 'v1^{commit}'], { encoding: 'utf8' }).trim();
    const check = plans[0]!;
    const fetched = check.notices.find((n) => n.code === 'NESTOR_WORKFLOW_FETCHED');
    assert.equal(fetched?.message, `acme/shared/.github/workflows/lint.yml@v1: fetched from file://${base}/acme/shared at ${commit.slice(0, 12)}`);
    assert.equal(fetched?.key, 'jobs.lint.uses');
    // What is said of a called job is at its place in the called file, named as the call names it.
    const runsOn = check.notices.find((n) => n.code === 'NESTOR_RUNS_ON_IMAGE');
    assert.deepEqual([runsOn?.file, runsOn?.line], ['acme/shared/.github/workflows/lint.yml@v1', 11]);
    assert.deepEqual(check.github?.inputs, { strict: true });
    assert.deepEqual(check.github?.call?.secrets, { token: '${{ secrets.TOKEN }}' });
    const hello = plans[1]!;
    assert.deepEqual(hello.github?.inputs, { who: 'true' }, 'the boolean, as the string input it is given to');
    assert.deepEqual([hello.github?.call?.caller, hello.github?.call?.job, hello.github?.call?.parent?.caller], ['lint / deeper', 'lint / deeper', 'lint']);
    assert.equal(hello.notices.find((n) => n.code === 'NESTOR_RUNS_ON_IMAGE')?.file, 'acme/shared/.github/workflows/common.yml@v1');

    // A forge that does not answer: the caller stands alone, not run, and says why.
    const away = loadPlans(repo, undefined, { ...opts, includes: { actionsBase: `file://${base}-gone`, cacheDir: cache } });
    assert.deepEqual(away.map((p) => [p.name, p.steps.length, p.needs]), [['lint', 0, undefined], ['after', 2, ['lint']]]);
    assert.match(away[0]!.notices.find((n) => n.code === 'NESTOR_REMOTE_UNREACHABLE')?.message ?? '', /^acme\/shared\/\.github\/workflows\/lint\.yml@v1: a reusable workflow of file:\/\/.*-gone\/acme\/shared; it could not be fetched \(.+\), so job lint is not run$/);
  } finally {
    for (const d of [base, repo, cache]) rmSync(d, { recursive: true, force: true });
  }
});

test('a call is checked against what the called workflow declares, each mistake at its place in its own file', () => {
  const repo = folder({
    '.github/workflows/ci.yml': lines(
      'on: push',
      'jobs:',
      '  build:',
      '    uses: ./.github/workflows/build.yml',
      '    runs-on: ubuntu-latest',
      '    with:',
      '      tagret: x',
      '      jobs: many',
      '    secrets:',
      '      tokn: abc',
      '  plain:',
      '    runs-on: ubuntu-latest',
      '    with: {a: 1}',
      '    steps: [{run: echo}]',
      '  other:',
      '    uses: ./.github/workflows/not-reusable.yml',
    ),
    '.github/workflows/build.yml': lines(
      'on:',
      '  workflow_call:',
      '    inputs:',
      '      target: {type: string, required: true}',
      '      jobs: {type: number}',
      '    secrets:',
      '      token: {required: true}',
      'jobs:',
      '  compile:',
      '    runs_on: ubuntu-latest',
      '    steps: [{run: make}]',
    ),
    '.github/workflows/not-reusable.yml': lines('on: push', 'jobs:', '  x:', '    runs-on: ubuntu-latest', '    steps: [{run: echo}]'),
  });
  try {
    const err = failureOf(() => loadPlans(repo, undefined, { ...opts, includes: { repoDir: repo } }));
    const got = err.problems.map((p) => `${p.position.file.split('/').pop()}:${p.position.line}:${p.position.column}: ${p.message}`);
    assert.deepEqual(got.slice().sort(), [
      'build.yml:9:3: job compile has no runs-on: say where it runs (runs-on: ubuntu-latest)',
      'build.yml:10:5: unknown key "runs_on" in job compile (did you mean "runs-on"?)',
      'ci.yml:4:5: ./.github/workflows/build.yml requires the input "target": give it under with:',
      'ci.yml:9:5: ./.github/workflows/build.yml requires the secret "token": pass it under secrets: (token: ${{ secrets.NAME }}), or give it all with secrets: inherit',
      'ci.yml:5:5: job build calls a reusable workflow, and such a job has no runs-on: its jobs are the called workflow\'s (it takes only name, uses, with, secrets, needs, if, strategy, permissions, concurrency); set runs-on there',
      'ci.yml:7:7: ./.github/workflows/build.yml has no input "tagret" (did you mean "target"?); its inputs: target, jobs',
      'ci.yml:8:7: input "jobs" of ./.github/workflows/build.yml is a number: "many" is not one',
      'ci.yml:10:7: ./.github/workflows/build.yml has no secret "tokn" (did you mean "token"?); its secrets: token',
      "ci.yml:13:5: with: is what a job that calls a reusable workflow (uses:) gives it; job plain runs steps: give a step its inputs under the step's with:, and its secrets through env:",
      'ci.yml:16:5: ./.github/workflows/not-reusable.yml is not a reusable workflow: its on: has no workflow_call (GitHub calls only those)',
    ].sort());
  } finally {
    rmSync(repo, { recursive: true, force: true });
  }
});

test('workflows that call each other in a circle, and calls more than four levels deep, are refused at the call that closes them', () => {
  const call = (next: string) => lines('on: {workflow_call: {}}', 'jobs:', '  next:', `    uses: ./.github/workflows/${next}.yml`);
  const circle = folder({ '.github/workflows/ci.yml': lines('on: push', 'jobs:', '  a:', '    uses: ./.github/workflows/a.yml'), '.github/workflows/a.yml': call('b'), '.github/workflows/b.yml': call('a') });
  const deep = folder({
    '.github/workflows/ci.yml': lines('on: push', 'jobs:', '  one:', '    uses: ./.github/workflows/l2.yml'),
    '.github/workflows/l2.yml': call('l3'),
    '.github/workflows/l3.yml': call('l4'),
    '.github/workflows/l4.yml': call('l5'),
    '.github/workflows/l5.yml': lines('on: {workflow_call: {}}', 'jobs:', '  end:', '    runs-on: ubuntu-latest', '    steps: [{run: echo}]'),
  });
  try {
    const ring = failureOf(() => loadPlans(circle, join('.github', 'workflows', 'ci.yml'), { ...opts, includes: { repoDir: circle } })).problems;
    assert.equal(ring.length, 1, JSON.stringify(ring));
    assert.deepEqual([ring[0]!.position.file.split('/').pop(), ring[0]!.position.line, ring[0]!.position.column], ['b.yml', 4, 5]);
    assert.equal(ring[0]!.message, './.github/workflows/a.yml: the workflows call each other in a circle (.github/workflows/ci.yml → .github/workflows/a.yml → .github/workflows/b.yml → .github/workflows/a.yml); GitHub refuses such a call: take one of the calls out');
    const deeper = failureOf(() => loadPlans(deep, join('.github', 'workflows', 'ci.yml'), { ...opts, includes: { repoDir: deep } })).problems;
    assert.equal(deeper.length, 1, JSON.stringify(deeper));
    assert.deepEqual([deeper[0]!.position.file.split('/').pop(), deeper[0]!.position.line], ['l4.yml', 4]);
    assert.equal(deeper[0]!.message, './.github/workflows/l5.yml: GitHub connects at most 4 levels of workflows, and this call is level 5 (.github/workflows/ci.yml → .github/workflows/l2.yml → .github/workflows/l3.yml → .github/workflows/l4.yml → .github/workflows/l5.yml): call the jobs of the deepest one from its caller instead');
  } finally {
    for (const d of [circle, deep]) rmSync(d, { recursive: true, force: true });
  }
});

test('three levels deep are run: names, needs and inputs passed down through each call', () => {
  const repo = folder({
    '.github/workflows/ci.yml': lines('on: push', 'jobs:', '  setup:', '    runs-on: ubuntu-latest', '    steps: [{run: echo}]', '  one:', '    needs: setup', '    uses: ./.github/workflows/l2.yml', '    with: {word: hi}', '  last:', '    needs: one', '    runs-on: ubuntu-latest', '    steps: [{run: "echo ${{ needs.one.outputs.said }}"}]'),
    '.github/workflows/l2.yml': lines('on:', '  workflow_call:', '    inputs: {word: {type: string}}', '    outputs: {said: {value: "${{ jobs.two.outputs.said }}"}}', 'jobs:', '  two:', '    uses: ./.github/workflows/l3.yml', '    with: {word: "${{ inputs.word }}!"}'),
    '.github/workflows/l3.yml': lines('on:', '  workflow_call:', '    inputs: {word: {type: string}}', '    outputs: {said: {value: "${{ jobs.three.outputs.said }}"}}', 'jobs:', '  three:', '    runs-on: ubuntu-latest', '    outputs: {said: "${{ inputs.word }}"}', '    steps: [{run: "echo ${{ inputs.word }}"}]'),
  });
  try {
    const plans = loadPlans(repo, join('.github', 'workflows', 'ci.yml'), { ...opts, includes: { repoDir: repo } });
    assert.deepEqual(plans.map((p) => [p.name, p.needs, p.github?.inputs]), [
      ['setup', undefined, {}],
      ['one / two / three', ['setup'], { word: 'hi!' }],
      ['last', ['one / two / three'], {}],
    ]);
    assert.deepEqual(plans[1]!.github?.call?.parent?.needs, ['setup']);
  } finally {
    rmSync(repo, { recursive: true, force: true });
  }
});

test("a with: over the caller's needs is filled as the run goes, through each call down; what reads it is left for the run", () => {
  const repo = folder({
    '.github/workflows/ci.yml': lines('on: push', 'jobs:', '  setup:', '    runs-on: ubuntu-latest', '    outputs: {v: "${{ steps.s.outputs.v }}"}', '    steps: [{id: s, run: echo}]', '  one:', '    needs: setup', '    uses: ./.github/workflows/l2.yml', '    with: {word: "${{ needs.setup.outputs.v }}"}'),
    '.github/workflows/l2.yml': lines('on:', '  workflow_call:', '    inputs: {word: {type: string}}', 'jobs:', '  two:', '    if: inputs.word != \'\'', '    uses: ./.github/workflows/l3.yml', '    with: {word: "${{ inputs.word }}!", loud: "${{ inputs.word == \'hi\' }}"}'),
    '.github/workflows/l3.yml': lines(
      'on:',
      '  workflow_call:',
      '    inputs: {word: {type: string}, loud: {type: boolean}}',
      'jobs:',
      '  three:',
      '    name: Say ${{ inputs.word }}',
      '    runs-on: ubuntu-latest',
      '    steps:',
      '      - if: inputs.loud',
      '        run: echo "${{ inputs.word }}"',
    ),
  });
  try {
    const [, three] = loadPlans(repo, join('.github', 'workflows', 'ci.yml'), { ...opts, includes: { repoDir: repo } });
    assert.equal(three!.name, 'one / two / three');
    assert.equal(three!.title, 'one / two / Say ${{ inputs.word }}', 'a late input in a name is left as written');
    assert.deepEqual([three!.github?.call?.late, three!.github?.call?.parent?.late], [
      { word: { template: '${{ inputs.word }}!', type: 'string' }, loud: { template: "${{ inputs.word == 'hi' }}", type: 'boolean' } },
      { word: { template: '${{ needs.setup.outputs.v }}', type: 'string' } },
    ]);
    assert.equal(three!.github?.call?.parent?.if, undefined);
    assert.equal(three!.github?.call?.if, "inputs.word != ''", 'an if: over a late input is asked as the run goes');
    const step = three!.steps[1]!;
    assert.equal(step.notRunBecause, undefined, 'a step if: over a late input is left for the run');
    // The run: the needs of the outermost caller, keyed in its workflow's namespace.
    const needs = { setup: { result: 'success' as const, outputs: { v: 'hi' } } };
    const state = newJobState('n', {}, needs);
    assert.deepEqual(scopeOf(three!.github!, state).contexts.inputs, { word: 'hi!', loud: true });
    const ready = prepareStep(three!.github!, step.github!, state, {}, three!.workspace, 1);
    assert.ok('script' in ready && ready.script!.includes('echo "hi!"'));
    assert.equal(jobNotRunBecause(three!.github!, { setup: { result: 'success', outputs: { v: '' } } }, {}), "its caller one / two has if: inputs.word != '', which is false");
  } finally {
    rmSync(repo, { recursive: true, force: true });
  }
});
