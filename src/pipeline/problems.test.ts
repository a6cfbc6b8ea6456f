import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PipelineError } from './errors.ts';
import { compileText, loadPlans } from './load.ts';

/** One run reports every independent problem of a file, each at its own line:column, in order. */

const opts = { defaultImage: 'busybox:latest', branch: 'main', event: 'push' };

function failure(run: () => unknown): PipelineError {
  try {
    run();
  } catch (err) {
    assert.ok(err instanceof PipelineError, `expected a PipelineError, got ${String(err)}`);
    return err;
  }
  assert.fail('the pipeline was accepted');
}

/** Each problem as `line:column message`. */
function problems(file: string, text: string): string[] {
  return failure(() => compileText({ file, text }, opts)).problems.map((p) => `${p.position.line}:${p.position.column} ${p.message}`);
}

test('Nestor: a misspelled key and a depends_on cycle are both reported', () => {
  const text = [
    'steps:',
    '  build:',
    '    comands: [make]',
    '    depends_on: [test]',
    '  test:',
    '    run: make test',
    '    depends_on: [build]',
  ].join('\n');
  assert.deepEqual(problems('.nestor.yml', text), [
    '3:5 unknown key "comands" in step build (did you mean "commands"?)',
    // At the entry that closes the cycle: test's `build`.
    '7:18 depends_on makes a cycle: build → test → build',
  ]);
});

test('Nestor: five independent problems in one run, sorted by position', () => {
  const text = [
    'steps:',
    '  - name: build',
    '    imgae: golang', // 3: misspelled key
    '    run: go build',
    '  - name: test',
    '    run: go test',
    '    depends_on: [build, lnt]', // 7: unknown step
    '  - name: lint',
    '    run: lint',
    '    privileged: "yes"', // 10: bad value type
    '    depends_on: lint', // 11: a cycle of one
    '  - name: build', // 12: the name used twice
    '    run: again',
  ].join('\n');
  assert.deepEqual(problems('.nestor.yml', text), [
    '3:5 unknown key "imgae" in step #1 (did you mean "image"?)',
    '7:25 step test depends on unknown step "lnt" (did you mean "lint"?)',
    '10:17 Invalid input: expected boolean, received string at privileged in step #3',
    '11:17 depends_on makes a cycle: lint → lint',
    '12:5 the name "build" is used twice (steps and services share one namespace)',
  ]);
});

test('Nestor: problems caused by one already reported are not reported again', () => {
  const text = [
    'stpes:', // the misspelling leaves `steps` missing: said once
    '  a: {run: x}',
  ].join('\n');
  assert.deepEqual(problems('.nestor.yml', text), ['1:1 unknown key "stpes" in the pipeline (did you mean "steps"?)']);
  const unreadable = [
    'steps:',
    '  - name: 5', // a name that is not one: whatever names it is not "unknown"
    '    run: x',
    '  - name: b',
    '    run: y',
    '    depends_on: ["5"]',
  ].join('\n');
  assert.deepEqual(problems('.nestor.yml', unreadable), ['2:11 Invalid input: expected string, received number at name in step #1']);
});

test('Nestor: services and the matrix are checked with the steps', () => {
  const text = ['matrix:', '  GO: []', 'services:', '  db:', '    imag: postgres', 'steps:', '  a: {run: x, depends_on: [db]}'].join('\n');
  assert.deepEqual(problems('.nestor.yml', text), [
    '2:7 matrix axis "GO" has no values, so the pipeline would make no jobs',
    '5:5 unknown key "imag" in service db (did you mean "image"?)',
    // A service is not a step: depends_on cannot name it.
    '7:28 step a depends on unknown step "db"',
  ]);
});

test('GitLab: an unknown key, needs naming a missing job and a stage not in stages, in one run', () => {
  const text = [
    'stages: [build, test]',
    '.base:',
    '  scirpt: [x]', // 3: in a template two jobs extend: reported once, where it is written
    'build:',
    '  stage: build',
    '  script: [make]',
    '  artefacts: {paths: [out]}', // 7
    'test:',
    '  extends: .base',
    '  stage: tset', // 10
    '  script: [make test]',
    '  needs: [biuld]', // 12
    'lint:',
    '  extends: [.base, .bsae]', // 14
    '  script: [lint]',
    '  needs: [{job: build}, {job: gone, optional: true}]', // an optional need may be missing
    'deploy:',
    '  scripts: [deploy]', // 18: "no script" would repeat it
  ].join('\n');
  const error = failure(() => compileText({ file: '.gitlab-ci.yml', text }, opts));
  assert.equal(error.code, 'NESTOR_PIPELINE_INVALID');
  assert.deepEqual(error.problems.map((p) => `${p.position.line}:${p.position.column} ${p.message}`), [
    '3:3 unknown key "scirpt" in .base (did you mean "script"?)',
    '7:3 unknown key "artefacts" in job build (did you mean "artifacts"?)',
    '10:10 job test uses stage "tset", which is not in stages (build, test) (did you mean "test"?)',
    '12:11 job test needs unknown job "biuld" (did you mean "build"?)',
    '14:20 job lint extends unknown job ".bsae" (did you mean ".base"?)',
    '18:3 unknown key "scripts" in job deploy (did you mean "script"?)',
  ]);
});

test('GitLab: a needs cycle is reported at the entry that closes it, and a stray keyword as such', () => {
  const text = ['stage: [build]', 'a:', '  script: [x]', '  needs: [b]', 'b:', '  script: [y]', '  needs: [a]'].join('\n');
  assert.deepEqual(problems('.gitlab-ci.yml', text), [
    '1:1 "stage" is neither a keyword nor a job (a job is a map with a script) (did you mean "stages"?)',
    '7:11 needs makes a cycle: a → b → a',
  ]);
});

test('Drone: every step and every document is checked', () => {
  const text = [
    'kind: pipeline',
    'name: ci',
    'steps:',
    '  - name: build',
    '    imgae: golang', // 5: the missing `image` is the same mistake
    '  - name: test',
    '    image: golang',
    '    commands: go test', // 8
    '    depends_on: [biuld, lint]', // 9: build has problems, but is there; biuld is not
    '  - name: lint',
    '    image: golang',
    '    depends_on: [test]', // 12
    '    settingz: {a: 1}', // 13
    '---',
    'kind: pipeline',
    'name: second',
    'stepz: []', // 17
  ].join('\n');
  assert.deepEqual(problems('.drone.yml', text), [
    '5:5 unknown key "imgae" in step build (did you mean "image"?)',
    '8:15 Invalid input: expected array, received string at commands in step test',
    '9:18 step test depends on unknown step "biuld" (did you mean "build"?)',
    '12:18 depends_on makes a cycle: test → lint → test',
    '13:5 unknown key "settingz" in step lint (did you mean "settings"?)',
    '17:1 unknown key "stepz" in the Drone pipeline (did you mean "steps"?)',
  ]);
});

test('Woodpecker: schema problems and the step graph in one run', () => {
  const text = [
    'when:',
    '  brnch: main', // 2
    'steps:',
    '  build:',
    '    image: golang',
    '    comands: [go build]', // 6
    '    depends_on: [deploy]',
    '  test:',
    '    image: golang',
    '    depends_on: [biuld]', // 10
    '  deploy:',
    '    image: alpine',
    '    depends_on: build', // 13
    '  check:', // 14: no image
    '    commands: [x]',
  ].join('\n');
  assert.deepEqual(problems('.woodpecker.yml', text), [
    '2:3 unknown key "brnch" in the Woodpecker workflow (did you mean "branch"?)',
    '6:5 unknown key "comands" in step build (did you mean "commands"?)',
    '10:18 step test depends on unknown step "biuld" (did you mean "build"?)',
    '13:17 depends_on makes a cycle: build → deploy → build',
    '14:3 required key "image" is missing in step check',
  ]);
});

test('only unsupported parts: still NESTOR_PIPELINE_UNSUPPORTED', () => {
  const error = failure(() => compileText({ file: '.woodpecker.yml', text: 'steps:\n  a: {image: x, commands: [x], devices: [/dev/fuse]}\n' }, opts));
  assert.equal(error.code, 'NESTOR_PIPELINE_UNSUPPORTED');
});

test('the files of a .woodpecker directory are all checked in one run', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nestor-problems-'));
  try {
    mkdirSync(join(dir, '.woodpecker'));
    writeFileSync(join(dir, '.woodpecker', 'a.yml'), 'steps:\n  a:\n    image: x\n    comands: [x]\n');
    writeFileSync(join(dir, '.woodpecker', 'b.yml'), 'steps:\n  b:\n    image: x\n    depends_on: [c]\n');
    const error = failure(() => loadPlans(dir, undefined, opts));
    assert.deepEqual(error.problems.map((p) => [p.position.file.endsWith('a.yml') ? 'a' : 'b', p.position.line, p.position.column]), [['a', 4, 5], ['b', 4, 18]]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
