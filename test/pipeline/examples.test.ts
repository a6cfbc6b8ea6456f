import { test } from 'node:test';
import assert from 'node:assert/strict';
import { engineNames, hostEngine } from '../helpers.ts';
import { runExample, type RunOutput } from './run-example.ts';

const host = await hostEngine();

const textOf = (out: RunOutput, source: string) => out.logs.filter((l) => l.source === source).map((l) => l.text);


test('docker build inside the job, then run the image it built', async () => {
  const out = await runExample('docker-build');
  assert.equal(out.result.status, 'success', out.raw);
  assert.ok(textOf(out, 'run').includes('hello from an image built inside a Nestor job'));
  // An image only the host has (made by `nestor images bootstrap`), pulled by its name in a
  // step's command: no registry has it, so it came through the image cache, which found it.
  assert.ok(textOf(out, 'run').includes('nestor/base:busybox reached the job engine without the internet'));
  assert.ok(!out.raw.includes('image nestor/base:busybox: '), `the cache found it on the host:\n${out.raw}`);
  assert.deepEqual(await engineNames(host), [], 'the job engine is gone');
});

test('GitLab: a docker:dind service used over TLS with /certs/client, unchanged', async () => {
  const out = await runExample('gitlab-dind');
  assert.equal(out.result.status, 'success', out.raw);
  assert.ok(textOf(out, 'build').some((l) => /^engine .* answers over TLS$/.test(l)));
  assert.deepEqual(textOf(out, 'test').filter((l) => /^(built|ca\.pem|cert\.pem|key\.pem)$/.test(l)), ['built', 'ca.pem', 'cert.pem', 'key.pem']);
  assert.ok(textOf(out, 'test').includes('after_script runs whatever happened'));
});

test('Drone: the /var/run volume pattern reaches the job engine\'s socket', async () => {
  const out = await runExample('drone-varrun');
  assert.equal(out.result.status, 'success', out.raw);
  assert.ok(textOf(out, 'build').includes('hello from drone'));
  assert.ok(textOf(out, 'check').includes('workspace is /drone/src'));
});

test('Woodpecker: a service by name, depends_on, and a secret that never appears in the logs', async () => {
  const out = await runExample('woodpecker', ['--secret', 'api_token=s3cr3t-value']);
  assert.equal(out.result.status, 'success', out.raw);
  assert.ok(textOf(out, 'fetch').includes('ok'), 'the service answered on its port');
  assert.ok(textOf(out, 'token').includes('token is ********'));
  assert.ok(!out.raw.includes('s3cr3t-value'), 'the secret value is masked everywhere');
});

test('docker-compose inside a step', async () => {
  const out = await runExample('compose');
  assert.equal(out.result.status, 'success', out.raw);
  assert.ok(textOf(out, 'up').includes('compose-ok'));
});

test('a matrix runs one job per combination, each in its own engine', async () => {
  const out = await runExample('matrix');
  assert.equal(out.result.status, 'success', out.raw);
  assert.equal(out.result.jobs.length, 4);
  const lines = out.logs.map((l) => l.text).filter((t) => t.startsWith('flavour=')).sort();
  assert.deepEqual(lines, ['flavour=plain size=1', 'flavour=plain size=2', 'flavour=salted size=1', 'flavour=salted size=2']);
});

test('a failing step with failure: ignore does not fail the job', async () => {
  const out = await runExample('failure-ignore');
  assert.equal(out.code, 0, out.raw);
  const steps = Object.fromEntries(out.result.jobs[0]!.steps.map((s) => [s.name, s.status]));
  assert.deepEqual(steps, { flaky: 'ignored', after: 'success', 'on-failure': 'skipped' });
});
