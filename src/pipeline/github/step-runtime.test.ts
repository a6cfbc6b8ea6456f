import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compileText } from '../load.ts';
import { jobOutputs, jobRuns, newJobState, parseFileCommands, prepareStep, shellCommand, stepLine } from './step-runtime.ts';

const plan = (text: string) => compileText({ text, file: '.github/workflows/ci.yml' }, { defaultImage: 'busybox:latest', branch: 'main', event: 'push' });

test('$GITHUB_OUTPUT and $GITHUB_ENV: NAME=value lines and NAME<<DELIMITER blocks', () => {
  assert.deepEqual(parseFileCommands('a=1\nb=x=y\nnotes<<EOF\nline 1\nline 2\nEOF\n\nc=\n'), { a: '1', b: 'x=y', notes: 'line 1\nline 2', c: '' });
  assert.deepEqual(parseFileCommands('json<<ghadelimiter_1\n{"a": "b<<c"}\nghadelimiter_1\n'), { json: '{"a": "b<<c"}' });
});

test('workflow commands are read; the marker lines only with the job\'s nonce', () => {
  assert.deepEqual(stepLine('::add-mask::hunter2', 'n'), { kind: 'mask', value: 'hunter2' });
  assert.deepEqual(stepLine('::set-output name=v::1%0A2', 'n'), { kind: 'output', name: 'v', value: '1\n2' });
  assert.deepEqual(stepLine('::error file=app.js,line=3,col=5::bad thing', 'n'), { kind: 'annotation', level: 'error', message: 'bad thing', where: 'app.js:3:5' });
  assert.deepEqual(stepLine('::group::Install', 'n'), { kind: 'group', title: 'Install' });
  assert.deepEqual(stepLine(`::nestor-n::output::${Buffer.from('x=1').toString('base64')}`, 'n'), { kind: 'files', file: 'output', content: 'x=1' });
  assert.equal(stepLine('::nestor-other::output::eD0x', 'n'), undefined, 'a marker with another nonce is a line like any');
  assert.equal(stepLine('plain text', 'n'), undefined);
});

test("the shells GitHub names, as GitHub invokes them", () => {
  assert.equal(shellCommand('bash', '/f.sh'), "bash --noprofile --norc -eo pipefail '/f.sh'");
  assert.equal(shellCommand('sh', '/f.sh'), "sh -e '/f.sh'");
  assert.equal(shellCommand('bash -l {0}', '/f.sh'), "bash -l '/f.sh'");
  assert.match(shellCommand(undefined, '/f.sh'), /command -v bash .* bash -e '\/f\.sh'; else sh -e '\/f\.sh'/);
  assert.match(shellCommand('python', '/f.py'), /python3 '\/f\.py'/);
});

test("a step's if: and expressions are answered from the steps before it; job outputs from theirs", () => {
  const [p] = plan(`on: push
env: {GREETING: hello}
jobs:
  a:
    runs-on: ubuntu-latest
    outputs:
      version: \${{ steps.v.outputs.version }}
    steps:
      - id: v
        run: echo "version=1.2" >> "$GITHUB_OUTPUT"
      - if: steps.v.outputs.version == '1.2'
        env:
          WHO: \${{ github.actor }}
        run: echo "\${{ env.GREETING }} \${{ steps.v.outputs.version }}"
      - if: failure()
        run: echo failed
`);
  const job = p!.github!;
  const state = newJobState('nonce', {});
  const step = (i: number) => p!.steps[i]!.github!;
  assert.ok(!('skip' in prepareStep(job, step(1), state, {}, p!.workspace, 1)));
  state.steps.v = { outputs: { version: '1.2' }, outcome: 'success', conclusion: 'success' };
  const second = prepareStep(job, step(2), state, {}, p!.workspace, 2);
  assert.ok(!('skip' in second));
  assert.match(second.script!, /echo "hello 1\.2"/);
  assert.equal(second.environment.WHO, 'nestor');
  assert.equal(second.environment.GREETING, 'hello');
  assert.deepEqual(prepareStep(job, step(3), state, {}, p!.workspace, 3), { skip: 'its if: failure() is false' });
  state.failed = true;
  assert.ok(!('skip' in prepareStep(job, step(3), state, {}, p!.workspace, 3)));
  assert.deepEqual(jobOutputs(job, state), { version: '1.2' });
});

test("a job's if: reads how the jobs it needs ended", () => {
  const [, b] = plan(`on: push
jobs:
  a:
    runs-on: ubuntu-latest
    steps: [{run: 'true'}]
  b:
    needs: a
    if: always() && needs.a.result == 'failure'
    runs-on: ubuntu-latest
    steps: [{run: 'true'}]
`);
  assert.equal(jobRuns(b!.github!, { a: { result: 'failure', outputs: {} } }, {}), true);
  assert.equal(jobRuns(b!.github!, { a: { result: 'success', outputs: {} } }, {}), false);
  assert.equal(b!.runWhen, 'always');
});
