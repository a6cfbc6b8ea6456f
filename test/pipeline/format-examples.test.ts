import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { engineNames, hostEngine, ROOT } from '../helpers.ts';
import { runExample } from './run-example.ts';

/**
 * The examples of each format that a team's real file looks like (examples/*-app,
 * examples/drone-jsonnet), run unchanged on real engines: includes, extends, a matrix and
 * artifacts (GitLab); a plugin, the socket volume and two pipelines with depends_on (Drone, in
 * YAML and in Jsonnet); a merged anchor, a docker:dind service on 2375 and two workflows with
 * depends_on (Woodpecker).
 */

const host = await hostEngine();
const PLUGIN = 'nestor-example/notify:1';
const SECRET = 'n0tify-t0ken-value';
const textOf = (out: Awaited<ReturnType<typeof runExample>>, source: string) => out.logs.filter((l) => l.source === source).map((l) => l.text);
const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim().slice(0, 8);

// The Drone examples' plugin is an image of their own folder, built on the host as a user would.
before(() => {
  execFileSync('docker', ['build', '-q', '-t', PLUGIN, '--label', 'dev.nestor.test=format-examples', `${ROOT}examples/drone-app/plugin`], { stdio: 'pipe' });
});
after(() => {
  execFileSync('docker', ['rmi', '-f', PLUGIN], { stdio: 'pipe' });
});

test('GitLab: jobs from included files extend hidden jobs; a parallel matrix and later stages get the build\'s artifacts', async () => {
  const out = await runExample('gitlab-app');
  assert.equal(out.result.status, 'success', out.raw);
  const jobs = Object.fromEntries(out.result.jobs.map((j) => [j.name, j.status]));
  assert.deepEqual(jobs, { build: 'success', 'test: [plain]': 'success', 'test: [loud]': 'success', package: 'success', deploy: 'skipped' });
  assert.ok(textOf(out, 'test: [plain]').includes('hello from greeter'));
  assert.ok(textOf(out, 'test: [loud]').includes('HELLO FROM GREETER'));
  assert.ok(textOf(out, 'test: [loud]').includes('the log was left out'), 'exclude kept dist/*.log out of the artifacts');
  assert.deepEqual(textOf(out, 'package').filter((l) => l.startsWith('dist/')), ['dist/', 'dist/app.txt']);
  assert.deepEqual(await engineNames(host), []);
});

for (const dir of ['drone-app', 'drone-jsonnet']) {
  test(`Drone (${dir}): the socket volume is the job's engine, a plugin gets its settings, and test waits for build`, async () => {
    const out = await runExample(dir, ['--secret', `notify_token=${SECRET}`]);
    assert.equal(out.result.status, 'success', out.raw);
    assert.deepEqual(out.result.jobs.map((j) => [j.name, j.status]), [['build', 'success'], ['test', 'success']]);
    assert.ok(textOf(out, 'image').includes(`hello from greeter ${commit}`), `${DRONE_SHA_NOTE}\n${out.raw}`);
    const notify = textOf(out, 'notify');
    assert.ok(notify.some((l) => l.startsWith(`to #builds (ops,dev): greeter ${commit} is built`)), notify.join('\n'));
    assert.ok(notify.includes('build success of build'));
    if (dir === 'drone-app') assert.ok(notify.includes('signed with token ********'));
    assert.ok(!out.raw.includes(SECRET), 'the secret is masked everywhere');
    assert.ok(textOf(out, 'unit').some((l) => l.startsWith(`testing`) && l.includes(`commit ${commit}`)));
    assert.deepEqual(await engineNames(host), []);
  });
}
const DRONE_SHA_NOTE = '${DRONE_COMMIT_SHA:0:8} is expanded before the file is read';

test('Woodpecker: merged anchors, a docker:dind service on 2375 without TLS, and a workflow that waits for another', async () => {
  const out = await runExample('woodpecker-app');
  assert.equal(out.result.status, 'success', out.raw);
  assert.deepEqual(out.result.jobs.map((j) => [j.name, j.status]), [['build', 'success'], ['test', 'success']]);
  assert.ok(textOf(out, 'build').includes('hello world from greeter'), 'the merged anchor gave the step its variables');
  assert.ok(textOf(out, 'image').some((l) => /^engine .* on 2375$/.test(l)));
  assert.ok(textOf(out, 'image').includes('hello world from greeter'), 'built and run through tcp://docker:2375');
  assert.deepEqual(textOf(out, 'check').filter((l) => !l.startsWith('+')), ['a fresh workspace', 'workflow test after build']);
  assert.deepEqual(await engineNames(host), []);
});
