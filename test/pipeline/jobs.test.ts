import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { engineNames, hostEngine, nestor } from '../helpers.ts';

/**
 * A pipeline of jobs on real engines: Drone pipelines that wait for others, each pipeline a
 * job in its own engine and its own network, so two of them can each run a database service
 * on port 5432 at the same time.
 */
const host = await hostEngine();

/** A stand-in database: answers every connection on 5432 with the name of its pipeline. */
const database = (who: string) => [
  '  - name: db',
  '    image: busybox:latest',
  `    commands: ["while true; do echo ${who} | nc -l -p 5432; done"]`,
];

const pipeline = (name: string, extra: string[], steps: string[]) => ['---', 'kind: pipeline', 'type: docker', `name: ${name}`, ...extra, 'services:', ...database(name), 'steps:', ...steps];

function droneFile(): string {
  const dir = mkdtempSync(join(tmpdir(), 'nestor-jobs-'));
  const text = [
    'kind: pipeline', 'name: one', 'steps:', '  - name: a', '    image: busybox:latest', '    commands: [echo one]',
    '---', 'kind: pipeline', 'name: two', 'depends_on: [one]', 'steps:', '  - name: b', '    image: busybox:latest', '    commands: [echo two]',
    '---', 'kind: pipeline', 'name: other', 'steps:', '  - name: c', '    image: busybox:latest', '    commands: [echo other]', '',
  ].join('\n');
  writeFileSync(join(dir, '.drone.yml'), text);
  return dir;
}

test('--job runs the job named and what it waits for; an unknown one is a usage error with the likely name', { timeout: 120_000 }, async () => {
  const dir = droneFile();
  const r = await nestor(['run', '--json', '--job', 'two', '-C', dir]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const result = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; jobs?: { name: string }[] }).find((e) => e.type === 'result')!;
  assert.deepEqual(result.jobs!.map((j) => j.name), ['one', 'two']);
  const wrong = await nestor(['run', '--job', 'tow', '-C', dir]);
  assert.equal(wrong.code, 2);
  assert.match(wrong.stderr, /--job tow: there is no such job \(did you mean "two"\?\)/);
});

test('Drone pipelines run as jobs in their own engines, in the order depends_on gives, and a failure skips what waits for it', { timeout: 240_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nestor-jobs-'));
  const ask = (n: string) => ['  - name: ask', '    image: busybox:latest', `    commands: ["for i in $(seq 50); do nc db 5432 > /tmp/a 2>/dev/null && [ -s /tmp/a ] && break; sleep 0.2; done; cat /tmp/a; grep -qx ${n} /tmp/a"]`];
  const text = [
    ...pipeline('one', [], ask('one')),
    ...pipeline('two', [], ask('two')),
    ...pipeline('after', ['depends_on: [one, two]'], ['  - name: last', '    image: busybox:latest', '    commands: [echo after both]']),
    '---', 'kind: pipeline', 'name: broken', 'steps:', '  - name: fail', '    image: busybox:latest', '    commands: [exit 3]',
    '---', 'kind: pipeline', 'name: never', 'depends_on: [broken]', 'steps:', '  - name: x', '    image: busybox:latest', '    commands: [echo must not run]',
    '---', 'kind: pipeline', 'name: report', 'depends_on: [broken]', 'trigger:', '  status: [failure]', 'steps:', '  - name: r', '    image: busybox:latest', '    commands: [echo reporting the failure]', '',
  ].join('\n').replace(/^---\n/, '');
  writeFileSync(join(dir, '.drone.yml'), text);
  const before = (await engineNames(host)).length;
  const r = await nestor(['run', '--json', '--parallel', '2', '-C', dir]);
  const events = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
  const result = events.find((e) => e.type === 'result') as { jobs: { name: string; status: string; engine: string; notRunBecause?: string }[] };
  assert.ok(result, r.stdout + r.stderr);
  const job = (n: string) => result.jobs.find((j) => j.name === n)!;
  assert.equal(job('one').status, 'success', r.stdout);
  assert.equal(job('two').status, 'success', 'each pipeline reaches its own database on 5432');
  assert.notEqual(job('one').engine, job('two').engine, 'each pipeline has an engine of its own');
  assert.equal(job('after').status, 'success');
  assert.equal(job('broken').status, 'failure');
  assert.equal(job('never').status, 'skipped');
  assert.equal(job('never').notRunBecause, 'it needs broken, which failed');
  assert.equal(job('report').status, 'success', 'a pipeline triggered on failure runs after one');
  assert.equal(r.code, 1, 'the run failed, because one pipeline did');
  const logs = events.filter((e) => e.type === 'log') as { job?: string; source: string; text: string; time: string }[];
  const timeOf = (source: string, text: string) => Date.parse(logs.find((l) => l.source === source && l.text === text)?.time ?? '');
  assert.ok(timeOf('last', 'after both') > Math.max(timeOf('ask', 'one'), timeOf('ask', 'two')), 'after starts once one and two have ended');
  assert.ok(!logs.some((l) => l.text === 'must not run'));
  assert.equal((await engineNames(host)).length, before, 'every job engine is gone');
});

test('GitLab jobs: two jobs each run a real PostgreSQL on 5432 in their own engines, and a file one job writes reaches the later ones as an artifact', { timeout: 300_000 }, async () => {
  const { buildPostgresImage } = await import('../support/postgres-image.ts');
  const pg = await buildPostgresImage(host, `nestor-test/postgres:jobs-${process.pid}`);
  try {
    const dir = mkdtempSync(join(tmpdir(), 'nestor-jobs-'));
    const text = [
      'stages: [build, test, report]',
      'variables:',
      '  POSTGRES_PASSWORD: pw-of-the-test',
      '  POSTGRES_DB: app',
      '  PGPASSWORD: pw-of-the-test',
      'build:',
      '  stage: build',
      '  image: busybox:latest',
      '  script:',
      '    - mkdir -p out/deep && echo "made by $CI_JOB_NAME" > out/greeting.txt && echo x > out/deep/kept && echo junk > out/noise.log',
      '  artifacts:',
      '    paths: [out/]',
      '    exclude: ["out/*.log"]',
      '    expire_in: 1 hour',
      '.database:',
      '  stage: test',
      `  image: ${pg.tag}`,
      '  services:',
      `    - name: ${pg.tag}`,
      '      alias: postgres',
      '  script:',
      '    - psql -h postgres -U postgres -d app -v ON_ERROR_STOP=1 -c "CREATE TABLE who (job text)" -c "INSERT INTO who VALUES (\'$CI_JOB_NAME\')"',
      '    - echo "rows $(psql -h postgres -U postgres -d app -tAc "SELECT string_agg(job, \',\') FROM who")"',
      '    - cat out/greeting.txt out/deep/kept',
      '    - test ! -e out/noise.log && echo "the excluded file is not there"',
      'db one:',
      '  extends: .database',
      'db two:',
      '  extends: .database',
      'no artifacts:',
      '  stage: test',
      '  image: busybox:latest',
      '  dependencies: []',
      '  script: ["test ! -e out && echo none here"]',
      'report:',
      '  stage: report',
      '  image: busybox:latest',
      '  script: ["cat out/greeting.txt"]',
      '',
    ].join('\n');
    writeFileSync(join(dir, '.gitlab-ci.yml'), text);
    const before = (await engineNames(host)).length;
    const r = await nestor(['run', '--json', '--parallel', '3', '-C', dir]);
    const events = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);
    const result = events.find((e) => e.type === 'result') as { jobs: { name: string; status: string; engine: string }[] } | undefined;
    assert.ok(result, r.stdout + r.stderr);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const job = (n: string) => result.jobs.find((j) => j.name === n)!;
    assert.deepEqual(result.jobs.map((j) => [j.name, j.status]), [['build', 'success'], ['db one', 'success'], ['db two', 'success'], ['no artifacts', 'success'], ['report', 'success']]);
    assert.equal(new Set(result.jobs.map((j) => j.engine)).size, 5, 'every job has an engine of its own');
    const logs = events.filter((e) => e.type === 'log') as { job: string; source: string; text: string; time: string }[];
    const linesOf = (n: string) => logs.filter((l) => l.job === n).map((l) => l.text);
    for (const n of ['db one', 'db two']) {
      assert.ok(linesOf(n).includes(`rows ${n}`), `${n} has a database of its own:\n${linesOf(n).join('\n')}`);
      assert.ok(linesOf(n).includes('made by build') && linesOf(n).includes('x'), `${n} read build's artifact`);
      assert.ok(linesOf(n).includes('the excluded file is not there'));
    }
    assert.ok(linesOf('no artifacts').includes('none here'), 'dependencies: [] gets no artifacts');
    assert.ok(linesOf('report').includes('made by build'), 'a job two stages later gets them too');
    const notices = events.filter((e) => e.type === 'notice') as { job: string; text: string }[];
    assert.ok(notices.some((n) => n.job === 'build' && /^artifacts: kept 2 files/.test(n.text)), JSON.stringify(notices));
    // The third stage waits for the whole second one.
    const timeOf = (n: string, text: string) => Date.parse(logs.find((l) => l.job === n && l.text === text)?.time ?? '');
    assert.ok(timeOf('db one', 'rows db one') > 0 && timeOf('report', 'made by build') > Math.max(timeOf('db one', 'rows db one'), timeOf('db two', 'rows db two')), 'report runs after the test stage');
    assert.equal((await engineNames(host)).length, before, 'every job engine is gone');
  } finally {
    await pg.remove();
  }
});
