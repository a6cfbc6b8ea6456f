import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileText } from './load.ts';
import type { CompileOptions } from './compile.ts';
import type { JobPlan } from './plan.ts';

/** GitLab's jobs are jobs of their own: one plan each, with its own services, its needs and its artifacts. */

const opts: CompileOptions = { defaultImage: 'busybox:latest', branch: 'main', event: 'push' };
const plans = (text: string) => compileText({ file: '.gitlab-ci.yml', text }, opts);
const job = (all: JobPlan[], name: string) => {
  const found = all.find((p) => p.name === name);
  assert.ok(found, `no job ${name} in ${all.map((p) => p.name).join(', ')}`);
  return found;
};

test('each GitLab job is a plan of its own with one step, waiting for the earlier stages or its needs', () => {
  const all = plans(['stages: [build, test, deploy]', 'compile:', '  stage: build', '  script: [make]', 'unit:', '  stage: test', '  script: [make test]', 'lint:', '  stage: test', '  needs: []', '  script: [make lint]', 'ship:', '  stage: deploy', '  when: on_failure', '  script: [./ship]', 'report:', '  stage: deploy', '  when: always', '  script: [./report]', ''].join('\n'));
  assert.deepEqual(all.map((p) => [p.name, p.steps.map((s) => s.name), p.after?.map((a) => a.job) ?? [], p.runWhen]), [
    ['compile', ['compile'], [], 'on_success'],
    ['unit', ['unit'], ['compile'], 'on_success'],
    ['lint', ['lint'], [], 'on_success'],
    ['ship', ['ship'], ['compile', 'unit', 'lint'], 'on_failure'],
    ['report', ['report'], ['compile', 'unit', 'lint'], 'always'],
  ]);
  for (const p of all) {
    assert.deepEqual(p.steps[0]!.dependsOn, [], 'inside its job the step waits for nothing');
    assert.deepEqual(p.steps[0]!.runOn, ['success'], 'whether it runs is the graph of jobs\' to decide');
    assert.equal(p.pipeline, 'gitlab');
  }
});

test('each job starts only its own services; two jobs may each have a database of the same name on one port', () => {
  const all = plans([
    'services: [redis:7]',
    'old:', '  services: [{name: "postgres:13", alias: db}]', '  script: [psql -h db]',
    'new:', '  services: [{name: "postgres:16", alias: db}]', '  script: [psql -h db]',
    'plain:', '  script: [echo]', '',
  ].join('\n'));
  const services = (n: string) => job(all, n).services.map((s) => [s.name, s.image, s.aliases.includes('db') || s.name === 'db']);
  assert.deepEqual(services('plain'), [['redis', 'redis:7', false]]);
  assert.deepEqual(services('old'), [['db', 'postgres:13', true]]);
  assert.deepEqual(services('new'), [['db-2', 'postgres:16', true]], 'the second job\'s db keeps its hostname');
  assert.deepEqual(job(all, 'new').images, ['postgres:16', 'busybox:latest']);
  assert.ok(!all.flatMap((p) => p.notices).some((n) => n.code === 'NESTOR_SERVICE_SHARED'));
});

test('artifacts: paths, exclude, when and expire_in are read; paths under $CI_PROJECT_DIR are made relative to the workspace', () => {
  const all = plans([
    'stages: [build, test]',
    'build:', '  stage: build', '  script: [make]', '  artifacts:', '    paths: [dist/, "$CI_PROJECT_DIR/report.xml", "bin/${CI_JOB_NAME}"]', '    exclude: ["dist/**/*.map"]', '    expire_in: 1 week',
    'logs:', '  stage: build', '  script: [make logs]', '  artifacts:', '    when: on_failure', '    paths: [/var/log/x.log, logs/]', '    expire_in: soon',
    'test:', '  stage: test', '  script: [make test]', '',
  ].join('\n'));
  assert.deepEqual(job(all, 'build').artifacts, { paths: ['dist', 'report.xml', 'bin/build'], exclude: ['dist/**/*.map'], when: 'on_success', expireInMs: 7 * 86_400_000 });
  assert.deepEqual(job(all, 'logs').artifacts, { paths: ['logs'], exclude: [], when: 'on_failure', expireInMs: 30 * 86_400_000 });
  const said = job(all, 'logs').notices.filter((n) => n.code === 'NESTOR_ARTIFACTS_UNREAD').map((n) => n.message);
  assert.equal(said.length, 2, said.join('\n'));
  assert.match(said.join('\n'), /"\/var\/log\/x\.log" is outside the workspace/);
  assert.match(said.join('\n'), /expire_in "soon" cannot be read/);
  assert.deepEqual(job(all, 'test').artifactsFrom, ['build', 'logs'], 'by default a job gets the artifacts of every earlier stage');
  assert.equal(job(all, 'build').artifactsFrom, undefined);
});

test('whose artifacts a job gets: dependencies, else needs without artifacts: false, else the earlier stages', () => {
  const all = plans([
    'stages: [build, test]',
    'a:', '  stage: build', '  script: [x]', '  artifacts: {paths: [a]}',
    'b:', '  stage: build', '  script: [x]', '  artifacts: {paths: [b]}',
    'c:', '  stage: build', '  script: [x]',
    'only-a:', '  stage: test', '  dependencies: [a]', '  script: [x]',
    'none:', '  stage: test', '  dependencies: []', '  script: [x]',
    'needs-b:', '  stage: test', '  needs: [b, {job: a, artifacts: false}]', '  script: [x]',
    'parallel:', '  stage: build', '  parallel: 2', '  script: [x]', '  artifacts: {paths: [p]}',
    'of-parallel:', '  stage: test', '  dependencies: [parallel, nope]', '  script: [x]',
    'all:', '  stage: test', '  script: [x]', '',
  ].join('\n'));
  assert.deepEqual(job(all, 'only-a').artifactsFrom, ['a']);
  assert.equal(job(all, 'none').artifactsFrom, undefined);
  assert.deepEqual(job(all, 'needs-b').artifactsFrom, ['b']);
  assert.deepEqual(job(all, 'needs-b').after?.map((a) => a.job), ['b', 'a']);
  assert.deepEqual(job(all, 'of-parallel').artifactsFrom, ['parallel 1/2', 'parallel 2/2']);
  assert.match(job(all, 'of-parallel').notices.map((n) => n.message).join('\n'), /dependencies names nope, which is not a job of this pipeline/);
  assert.deepEqual(job(all, 'all').artifactsFrom, ['a', 'b', 'parallel 1/2', 'parallel 2/2'], 'jobs that keep no artifacts are left out');
});

test('notices go with the job they are about; what concerns the file, with the first job', () => {
  const all = plans(['variables: {GIT_DEPTH: "1"}', 'first:', '  script: [x]', 'second:', '  script: [x]', '  coverage: /\\d+%/', ''].join('\n'));
  assert.ok(job(all, 'second').notices.some((n) => n.key === 'second.coverage'));
  assert.ok(!job(all, 'first').notices.some((n) => n.key === 'second.coverage'));
  assert.ok(job(all, 'first').notices.some((n) => /GIT_DEPTH/.test(n.message)), job(all, 'first').notices.map((n) => n.message).join('\n'));
});

test('the graph of jobs: pipelines stand for their jobs, and a job the file leaves out waits for no one and holds up no one', async () => {
  const { planGraph } = await import('./plan-graph.ts');
  const all = plans(['stages: [build, test]', 'a:', '  stage: build', '  script: [x]', 'manual:', '  stage: build', '  when: manual', '  script: [x]', 'b:', '  stage: test', '  script: [x]', ''].join('\n'));
  assert.deepEqual(planGraph(all), [
    { name: 'a', workflow: all[0]!.pipeline, needs: [], runWhen: 'on_success' },
    { name: 'manual', workflow: all[0]!.pipeline, needs: [], runWhen: 'on_success', leftOut: job(all, 'manual').steps[0]!.notRunBecause, manual: true },
    { name: 'b', workflow: all[0]!.pipeline, needs: ['a'], runWhen: 'on_success' },
  ]);
  const drone = compileText({ file: '.drone.yml', text: 'kind: pipeline\nname: one\nsteps:\n  - name: s\n    image: x\n    commands: [x]\n---\nkind: pipeline\nname: two\ndepends_on: [one]\nsteps:\n  - name: s\n    image: x\n    commands: [x]\n' }, opts);
  assert.deepEqual(planGraph(drone).map((j) => [j.name, j.needs]), [['one', []], ['two', ['one']]]);
});
