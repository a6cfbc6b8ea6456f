import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DEFAULT_RUNNER_IMAGE } from '../config.ts';
import type { CompileOptions } from './compile.ts';
import { PipelineError } from './errors.ts';
import { compileText, readPipelines } from './load.ts';
import { expandMatrix } from './formats/github-matrix.ts';

// Remote actions come from a forge that is not there: the tests never reach the network.
const opts: CompileOptions = { defaultImage: 'busybox:latest', branch: 'main', event: 'push', includes: { actionsBase: 'file:///nonexistent/nestor-test-forge' } };
const file = '.github/workflows/ci.yml';
const plans = (text: string, o: Partial<CompileOptions> = {}) => compileText({ text, file }, { ...opts, ...o });
const problems = (text: string) => {
  try {
    plans(text);
  } catch (err) {
    if (err instanceof PipelineError) return err.message;
    throw err;
  }
  assert.fail('expected problems');
};

test('each job is a pipeline of its own, per matrix combination, ordered by needs; its steps run in one container', () => {
  const text = `name: CI
on: push
jobs:
  build:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: make
  test:
    needs: build
    runs-on: \${{ matrix.os }}
    strategy:
      matrix:
        os: [ubuntu-22.04, ubuntu-24.04]
        node: [18, 20]
        exclude:
          - os: ubuntu-22.04
            node: 18
    steps:
      - name: Test on \${{ matrix.node }}
        run: npm test
`;
  const all = plans(text);
  assert.deepEqual(all.map((p) => p.name), ['build', 'test (ubuntu-22.04, 20)', 'test (ubuntu-24.04, 18)', 'test (ubuntu-24.04, 20)']);
  const test1 = all[1]!;
  assert.deepEqual(test1.needs, ['build']);
  assert.deepEqual(test1.github?.matrix, { os: 'ubuntu-22.04', node: 20 });
  assert.equal(test1.steps[0]!.detach, true);
  assert.equal(test1.steps[0]!.image, DEFAULT_RUNNER_IMAGE);
  assert.deepEqual(test1.images, [DEFAULT_RUNNER_IMAGE], 'steps run inside the job container: no image of their own');
  assert.equal(test1.steps[1]!.name, 'Test on 20');
  assert.equal(test1.steps[1]!.execIn, 'job-container');
  assert.equal(test1.steps[1]!.environment.node, undefined, 'matrix values are not variables');
  assert.equal(test1.steps[1]!.environment.GITHUB_ACTIONS, 'true');
  assert.equal(all[0]!.steps[1]!.github?.kind, 'checkout');
});

test('matrix include adds to the combinations it fits and makes its own otherwise, as GitHub documents', () => {
  const combos = expandMatrix({ fruit: ['apple', 'pear'], animal: ['cat', 'dog'], include: [{ color: 'green' }, { color: 'pink', animal: 'cat' }, { fruit: 'apple', shape: 'circle' }, { fruit: 'banana' }, { fruit: 'banana', animal: 'cat' }] });
  assert.deepEqual(combos, [
    { fruit: 'apple', animal: 'cat', color: 'pink', shape: 'circle' },
    { fruit: 'apple', animal: 'dog', color: 'green', shape: 'circle' },
    { fruit: 'pear', animal: 'cat', color: 'pink' },
    { fruit: 'pear', animal: 'dog', color: 'green' },
    { fruit: 'banana' },
    { fruit: 'banana', animal: 'cat' },
  ]);
});

test('Windows and macOS jobs are not run, and said so; the Linux ones are', () => {
  const text = 'on: push\njobs:\n  a:\n    runs-on: windows-latest\n    steps: [{run: dir}]\n  b:\n    runs-on: ubuntu-latest\n    steps: [{run: ls}]\n';
  const [a, b] = plans(text);
  assert.match(a!.steps[1]!.notRunBecause ?? '', /windows/);
  assert.equal(b!.steps[1]!.notRunBecause, undefined);
  assert.ok(a!.notices.some((n) => n.code === 'NESTOR_PLATFORM_UNAVAILABLE' && n.severity === 'degraded'));
});

test('every problem at once, at file:line:column: unknown keys with a suggestion, bad expressions, unknown needs, uses with run', () => {
  const text = `on: push
jobs:
  build:
    run-on: ubuntu-latest
    steps:
      - run: echo \${{ github.ref == }}
      - uses: actions/checkout@v4
        run: echo both
  test:
    needs: biuld
    runs-on: ubuntu-latest
    steps:
      - run: make test
`;
  const message = problems(text);
  assert.match(message, /ci\.yml:4:5: unknown key "run-on" in job build \(did you mean "runs-on"\?\)/);
  assert.match(message, /ci\.yml:6:\d+: The expression .* cannot be read/);
  assert.match(message, /ci\.yml:8:\d+: step 2 has both uses: and run:/);
  assert.match(message, /ci\.yml:10:\d+: job test needs biuld, which is not a job of this workflow \(did you mean "build"\?\)/);
});

test('on: decides whether the workflow runs for the event and ref given', () => {
  const text = 'on:\n  push:\n    branches: [main]\n    tags: [\'v*\']\n  pull_request:\n    paths-ignore: [docs/**]\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps: [{run: make}]\n';
  const runs = (o: Partial<CompileOptions>) => plans(text, o)[0]!.steps[1]!.notRunBecause === undefined;
  assert.equal(runs({ event: 'push', branch: 'main' }), true);
  assert.equal(runs({ event: 'push', branch: 'feature' }), false);
  assert.equal(runs({ event: 'tag', tag: 'v1.2.0', branch: undefined }), true);
  assert.equal(runs({ event: 'tag', tag: 'nightly', branch: undefined }), false);
  assert.equal(runs({ event: 'pull_request', branch: 'x', changedPaths: ['docs/a.md'] }), false);
  assert.equal(runs({ event: 'pull_request', branch: 'x', changedPaths: ['src/a.ts'] }), true);
  const [config] = readPipelines(file, text, opts);
  assert.deepEqual(Object.keys(config!.config.github!.triggers!.events), ['push', 'pull_request']);
});

test('an if: that only the run can answer is kept for it; one over the matrix and the event is answered now', () => {
  const text = `on: push
jobs:
  a:
    runs-on: ubuntu-latest
    strategy: {matrix: {n: [1, 2]}}
    steps:
      - if: matrix.n == 2
        run: echo two
      - if: failure()
        run: echo failed
      - if: \${{ github.event_name == 'pull_request' }}
        run: echo pr
`;
  const [one, two] = plans(text);
  assert.match(one!.steps[1]!.notRunBecause ?? '', /matrix\.n == 2 is false/);
  assert.equal(two!.steps[1]!.notRunBecause, undefined);
  assert.deepEqual(one!.steps[2]!.runOn, ['success', 'failure']);
  assert.equal(one!.steps[2]!.github?.if, 'failure()');
  assert.match(one!.steps[3]!.notRunBecause ?? '', /is false/);
});

test('-P maps a runs-on label to an image; services are read with their ports; docker:// steps run their image', () => {
  const text = `on: push
jobs:
  a:
    runs-on: ubuntu-latest
    services:
      db:
        image: postgres:16
        env: {POSTGRES_PASSWORD: pw}
        ports: ['5432:5432']
        options: --health-cmd pg_isready --health-interval 10s
    steps:
      - uses: docker://alpine:3.20
        with: {args: echo "hello there"}
`;
  const [plan] = plans(text, { platforms: { 'ubuntu-latest': 'my/runner:1' } });
  assert.equal(plan!.steps[0]!.image, 'my/runner:1');
  assert.deepEqual(plan!.services.map((s) => [s.name, s.image, s.ports]), [['db', 'postgres:16', [5432]]]);
  assert.equal(plan!.steps[1]!.image, 'alpine:3.20');
  assert.equal(plan!.steps[1]!.execIn, undefined);
  assert.deepEqual(plan!.steps[1]!.command, ['echo', 'hello there']);
});
