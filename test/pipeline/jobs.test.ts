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
