import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compile, type CompileOptions } from './compile.ts';
import { PipelineError } from './errors.ts';
import { readPipelines } from './load.ts';
import { asOneJob } from './jobs-as-one.test-helper.ts';
import type { JobPlan } from './plan.ts';

/** YAML as the forges read it: repeated keys (GitLab, Drone), anchors, aliases and merge keys. */

const opts: CompileOptions = { defaultImage: 'busybox:latest', branch: 'main', event: 'push' };
const plans = (file: string, text: string): JobPlan[] => asOneJob(readPipelines(file, text, opts).flatMap(({ config, source }) => compile(config, source, opts)));
const problems = (file: string, text: string): string => {
  try {
    plans(file, text);
  } catch (err) {
    assert.ok(err instanceof PipelineError, String(err));
    return err.message;
  }
  assert.fail('accepted');
};

test('a key written twice in a GitLab map keeps the last value, with a notice naming both lines', () => {
  const [plan] = plans('.gitlab-ci.yml', ['build:', '  script: [make]', 'test:', '  script: [old]', 'test:', '  image: alpine', '  script: [new]', ''].join('\n'));
  assert.deepEqual(plan!.steps.map((s) => [s.name, s.commands, s.image]), [['build', ['make'], 'busybox:latest'], ['test', ['new'], 'alpine']]);
  const n = plan!.notices.find((x) => x.code === 'NESTOR_REPEATED_KEY');
  assert.ok(n, JSON.stringify(plan!.notices));
  assert.deepEqual([n.line, n.column, n.key, n.severity], [5, 1, 'test', 'info']);
  assert.match(n.message, /at line 3 and line 5: the one at line 5 counts, as GitLab reads it/);
});

test('a repeated key inside a job is found at its path, and a problem in the kept one points at it', () => {
  const text = ['build:', '  script: [make]', '  stage: build', '  stage: tset', ''].join('\n');
  assert.match(problems('.gitlab-ci.yml', text), /:4:10: job build uses stage "tset"/);
});

test('Nestor\'s own format still refuses a repeated key, at the second one', () => {
  assert.match(problems('.nestor.yml', 'steps:\n  - name: a\n    image: x\n    image: y\n    run: echo\n'), /\.nestor\.yml:4:5: YAML syntax: Map keys must be unique: "image" is written at line 3/);
});

test('merge keys of one alias and of a list of aliases, with the job\'s own keys winning', () => {
  const text = [
    '.img: &img', '  image: alpine:3', '  variables: {A: "1"}',
    '.scr: &scr', '  script: [echo base]', '  variables: {B: "2"}',
    'one:', '  <<: *img', '  script: [echo one]',
    'two:', '  <<: [*img, *scr]', '  image: debian',
    '',
  ].join('\n');
  const [plan] = plans('.gitlab-ci.yml', text);
  assert.deepEqual(plan!.steps.map((s) => [s.name, s.image, s.commands]), [['one', 'alpine:3', ['echo one']], ['two', 'debian', ['echo base']]]);
  // The first map of a merge list wins where both have a key (YAML 1.1's merge).
  assert.equal(plan!.steps[1]!.environment.A, '1');
});

test('a problem in a merged map is reported where the anchor writes it', () => {
  const text = ['.base: &base', '  imag: alpine', '  script: [x]', 'job:', '  <<: *base', ''].join('\n');
  assert.match(problems('.gitlab-ci.yml', text), /\.gitlab-ci\.yml:2:3: unknown key "imag" in job job \(did you mean "image"\?\)/);
});

test('anchors and aliases of lists and scalars', () => {
  const text = ['.s: &setup', '  - apt-get update', 'x: &ver "1.2"', 'a:', '  variables: {V: *ver}', '  before_script: *setup', '  script: [make]', ''].join('\n');
  // `x` is no job (not a map): GitLab reads it as one and refuses it too.
  assert.match(problems('.gitlab-ci.yml', text), /"x" is neither a keyword nor a job/);
});
