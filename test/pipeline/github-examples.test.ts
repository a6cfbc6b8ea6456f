import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { engineNames, hostEngine, nestor, ROOT } from '../helpers.ts';
import { runExample, type RunOutput } from './run-example.ts';

/**
 * GitHub Actions workflows run unchanged on real engines, each job (each matrix combination) in
 * an engine of its own, its steps in one job container of the default runner image.
 */

const host = await hostEngine();
/** A step's lines; `job/step` names the step of one job (a matrix combination). */
const textOf = (out: RunOutput, name: string) => {
  const [job, source] = name.includes('/') && !out.logs.some((l) => l.source === name) ? [name.slice(0, name.indexOf('/')), name.slice(name.indexOf('/') + 1)] : [undefined, name];
  return out.logs.filter((l) => l.source === source && (job === undefined || l.job === job)).map((l) => l.text);
};
type JobOut = RunOutput['result']['jobs'][number] & { outputs?: Record<string, string>; summary?: string };
const jobOf = (out: RunOutput, name: string) => out.result.jobs.find((j) => j.name === name) as JobOut | undefined;
const stepStatus = (out: RunOutput, job: string) => Object.fromEntries((jobOf(out, job)?.steps ?? []).map((s) => [s.name, s.status]));

function workflow(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'nestor-gha-'));
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, name)), { recursive: true });
    writeFileSync(join(dir, name), content);
  }
  return dir;
}

test('github-ci: outputs between jobs, a matrix with an allowed failure, artifacts to a job that always runs, docker build in the job', { timeout: 300_000 }, async () => {
  const out = await runExample('github-ci');
  assert.equal(out.result.status, 'success', out.raw);
  assert.deepEqual(out.result.jobs.map((j) => [j.name, j.status]), [
    ['prepare', 'success'],
    ['test (1)', 'success'],
    ['test (2)', 'success'],
    ['test (3, true)', 'success'],
    ['report', 'success'],
    ['image', 'success'],
  ]);
  const prepare = jobOf(out, 'prepare')!;
  assert.deepEqual(prepare.outputs, { version: '1.4.1', notes: 'first line\nsecond line' });
  assert.equal(prepare.summary, '## Version nestor-example 1.4\n');
  const later = textOf(out, 'Later steps see what earlier ones left');
  assert.deepEqual(later, ['the token is ********', 'tool from GITHUB_PATH', 'version from steps: 1.4.1'], 'GITHUB_ENV, GITHUB_PATH, steps outputs and add-mask');
  assert.ok(!out.raw.includes('s3cr3t-value-42'), 'a value once masked is masked everywhere after');
  assert.ok(textOf(out, 'Work out the version').includes('▾ What the runner gives'), 'a ::group:: is a section');
  assert.ok(textOf(out, 'Work out the version').includes('event=push ref=refs/heads/main workspace=/github/workspace'));
  assert.ok(!out.raw.includes('::nestor-'), 'the runner\'s own marker lines never reach the log');

  assert.deepEqual(stepStatus(out, 'test (2)')['Only the second'], 'success');
  assert.deepEqual(stepStatus(out, 'test (1)')['Only the second'], 'skipped');
  assert.equal(stepStatus(out, 'test (3, true)')['The experimental one fails, and is allowed to'], 'ignored');
  assert.equal(stepStatus(out, 'test (3, true)')['After a failure only'], 'skipped');
  assert.ok(textOf(out, 'test (1)/Test 1 of version ${{ needs.prepare.outputs.version }}').includes('n=1 version=1.4.1'), 'needs outputs reach a later job');

  const report = textOf(out, 'report/Every matrix job\'s result arrived');
  for (const n of [1, 2, 3]) assert.ok(report.includes(`n=${n} version=1.4.1`), `result-${n} was downloaded:\n${report.join('\n')}`);
  assert.ok(report.includes('test ended success'));
  assert.ok(report.includes('notes: first line'));
  assert.deepEqual(textOf(out, 'report/Python is a shell too'), ['python sees nestor-example']);
  const image = textOf(out, 'image/docker build and run in the job\'s own engine');
  assert.ok(image.includes('Successfully tagged example-app:ci') && image.at(-1) === 'built inside the job\'s own engine', image.join('\n'));
  assert.deepEqual(await engineNames(host), []);
});

test('a step past its timeout-minutes is killed with everything it started, and if: always() still runs', { timeout: 180_000 }, async () => {
  const dir = workflow({
    '.github/workflows/t.yml': [
      'on: push',
      'jobs:',
      '  slow:',
      '    runs-on: ubuntu-latest',
      '    steps:',
      '      - name: Never ends',
      '        timeout-minutes: 0.05',
      '        run: |',
      '          (sleep 300; echo child-survived) &',
      '          sleep 300',
      '          echo never',
      '      - name: Afterwards',
      '        if: always()',
      '        run: |',
      '          sleep 1',
      '          if ps -eo args | grep -v grep | grep -q "sleep 300"; then echo "still running"; else echo "all gone"; fi',
      '',
    ].join('\n'),
  });
  const r = await nestor(['run', '--json', '-C', dir]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  const events = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; source?: string; text?: string; jobs?: JobOut[] });
  const result = events.find((e) => e.type === 'result')!;
  const steps = Object.fromEntries(result.jobs![0]!.steps.map((s) => [s.name, s.status]));
  assert.equal(steps['Never ends'], 'timeout', JSON.stringify(result));
  assert.equal(steps.Afterwards, 'success');
  assert.deepEqual(events.filter((e) => e.type === 'log' && e.source === 'Afterwards').map((e) => e.text), ['all gone']);
  assert.ok(!r.stdout.includes('never') && !r.stdout.includes('child-survived'));
  assert.deepEqual(await engineNames(host), []);
});

test('a job with continue-on-error fails alone: the jobs after it run, and the run passes', { timeout: 180_000 }, async () => {
  const dir = workflow({
    '.github/workflows/c.yml': [
      'on: push',
      'jobs:',
      '  flaky:',
      '    runs-on: ubuntu-latest',
      '    continue-on-error: true',
      '    steps:',
      '      - run: exit 4',
      '      - run: echo never',
      '  after:',
      '    needs: flaky',
      '    runs-on: ubuntu-latest',
      '    steps:',
      '      - run: echo "flaky ended ${{ needs.flaky.result }}"',
      '',
    ].join('\n'),
  });
  const r = await nestor(['run', '--json', '-C', dir]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const events = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; status?: string; source?: string; text?: string; jobs?: (JobOut & { allowedFailure?: boolean })[] });
  const result = events.find((e) => e.type === 'result')!;
  assert.equal(result.status, 'success');
  assert.deepEqual(result.jobs!.map((j) => [j.name, j.status, j.allowedFailure ?? false]), [['flaky', 'failure', true], ['after', 'success', false]]);
  assert.deepEqual(result.jobs![0]!.steps.map((s) => s.status), ['success', 'failure', 'skipped'], 'within the job, a failed step still stops the rest');
  assert.deepEqual(events.filter((e) => e.type === 'log' && e.source === 'Run echo "flaky ended ${{ needs.flaky.result }}"').map((e) => e.text), ['flaky ended success'], 'as on GitHub, needs.ID.result of a job allowed to fail is success');
});

test('github-services: a service is waited on by its --health-cmd, reached by name, at localhost and at its mapped port', { timeout: 180_000 }, async () => {
  const out = await runExample('github-services');
  assert.equal(out.result.status, 'success', out.raw);
  assert.ok(out.raw.includes('the job waits until --health-cmd passes inside the service'));
  const reach = textOf(out, 'The service answers by its name and at both ports');
  assert.deepEqual(reach, ['{}by name: up', '{"repositories":[]}', '{"repositories":[]}'], reach.join('\n'));
  const back = textOf(out, 'The image is in the registry, and comes back through the mapped port');
  assert.equal(back[0], '{"repositories":["greeter"]}');
  assert.equal(back.at(-1), 'hello from the image the service kept', back.join('\n'));
  assert.deepEqual(await engineNames(host), []);
});

test('github-actions: a composite action of the repository calls a Docker action built in the job\'s engine; a JavaScript action runs on the Node Nestor mounts; outputs reach the job', { timeout: 180_000 }, async () => {
  const out = await runExample('github-actions');
  assert.equal(out.result.status, 'success', out.raw);
  assert.deepEqual(textOf(out, 'Run ./.github/actions/version > Say it'), ['version 2.1.0-rc.1 is a pre-release (action at /github/workspace/.github/actions/version)']);
  assert.equal(textOf(out, 'Run ./.github/actions/version > Greet through the Docker action')[0], 'Hello, version 2.1.0-rc.1! (from the greet action; INPUT_WHO=version 2.1.0-rc.1)', 'the default greeting, and args over the inputs');
  assert.deepEqual(textOf(out, "The composite's outputs"), ['version=2.1.0-rc.1 prerelease=true']);
  assert.equal(textOf(out, 'Run ./.github/actions/greet')[0], 'Hi, 2.1.0-rc.1! (from the greet action; INPUT_WHO=2.1.0-rc.1)');
  assert.deepEqual(textOf(out, "The Docker action's output"), ['greeted 2.1.0-rc.1'], 'a Docker action writes $GITHUB_OUTPUT from its own container');
  assert.deepEqual(textOf(out, 'Run ./.github/actions/stamp'), ['▾ Stamping', 'node v24.21.0 on linux, action at /github/workspace/.github/actions/stamp'.replace('v24.21.0', process.version), 'notice: stamped build-2.1.0-rc.1']);
  assert.deepEqual(textOf(out, "The JavaScript action's output"), ['stamp build-2.1.0-rc.1; node here is none'], 'the Node is the one Nestor mounts for actions, not one of the image');
  assert.deepEqual(textOf(out, 'A step of an image'), ['docker step sees 2.1.0']);
  assert.ok(!out.raw.includes('cannot open'), out.raw);
  assert.deepEqual(await engineNames(host), []);
});

test('github-dind, the design notes\' workflow: on a trusted engine its script runs a privileged docker:dind and containers in it; in the default one the step says what it needs', { timeout: 300_000 }, async () => {
  const trusted = await runExample('github-dind', ['--mode', 'dind']);
  assert.equal(trusted.result.status, 'success', trusted.raw);
  assert.ok(textOf(trusted, 'Setup DIND').some((l) => /^DIND daemon ready after \d+ tries$/.test(l)), trusted.raw);
  const test = textOf(trusted, 'Test DIND');
  assert.ok(test.some((l) => l.startsWith('nested daemon ')), test.join('\n'));
  assert.equal(test.at(-1), 'Hello from DIND');
  assert.deepEqual(textOf(trusted, 'Clean up'), ['DIND environment removed']);

  const rootless = await runExample('github-dind', ['--mode', 'rootless']);
  assert.equal(rootless.result.status, 'failure');
  const setup = rootless.result.jobs[0]!.steps.find((s) => s.name === 'Setup DIND') as { status: string; reason?: string };
  assert.equal(setup.status, 'failure');
  assert.match(setup.reason ?? '', /step Setup DIND started a privileged container .* a rootless engine cannot give one.*nestor run --mode dind/);
  assert.equal(rootless.result.jobs[0]!.steps.find((s) => s.name === 'Clean up')?.status, 'success', 'if: always() still cleans up');
  assert.deepEqual(await engineNames(host), []);
});

/** A forge of bare repositories on disk, holding `dir` as OWNER/REPO with a tag: what NESTOR_ACTIONS_URL points at. */
function forgeWith(owner: string, repo: string, dir: string, tag: string): string {
  const forge = mkdtempSync(join(tmpdir(), 'nestor-forge-'));
  const work = mkdtempSync(join(tmpdir(), 'nestor-forge-work-'));
  const git = (cwd: string, ...args: string[]) => execFileSync('git', ['-c', 'user.email=ci@nestor.invalid', '-c', 'user.name=Nestor CI', ...args], { cwd, stdio: 'pipe' });
  cpSync(dir, work, { recursive: true });
  git(work, 'init', '-q');
  git(work, 'add', '-A');
  git(work, 'commit', '-qm', 'the action');
  git(work, 'tag', tag);
  mkdirSync(join(forge, owner), { recursive: true });
  git(forge, 'clone', '-q', '--bare', work, join(forge, owner, repo));
  rmSync(work, { recursive: true, force: true });
  return forge;
}

test('github-remote-action: owner/repo@ref is fetched with git from the operator\'s forge (a local bare repository), by commit, and run', { timeout: 180_000 }, async () => {
  const forge = forgeWith('nestor-example', 'hello-action', `${ROOT}examples/github-remote-action/forge/hello-action`, 'v1');
  const cache = mkdtempSync(join(tmpdir(), 'nestor-actions-cache-'));
  try {
    const env = { ...process.env, NESTOR_ACTIONS_URL: `file://${forge}`, NESTOR_INCLUDE_CACHE: cache };
    const out = await runExample('github-remote-action', [], env);
    assert.equal(out.result.status, 'success', out.raw);
    const commit = execFileSync('git', ['--git-dir', join(forge, 'nestor-example', 'hello-action'), 'rev-parse', 'v1^{commit}'], { encoding: 'utf8' }).trim();
    assert.ok(out.raw.includes(`fetched from file://${forge}/nestor-example/hello-action at ${commit.slice(0, 12)}`), out.raw);
    assert.deepEqual(textOf(out, 'Run nestor-example/hello-action@v1 > Run ${{ github.action_path }}/greet.sh "${{ inputs.name }}"'), [`hello, Nestor, from ${commit.slice(0, 12)}`], 'the script beside action.yml ran from the fetched folder');
    assert.deepEqual(textOf(out, 'Run echo "the action said \'${{ steps.hello.outputs.greeting }}\'"'), [`the action said 'hello, Nestor, from ${commit.slice(0, 12)}'`]);
    // Without the forge the same workflow says why the step is not run, and the job goes on.
    const away = await runExample('github-remote-action', [], { ...env, NESTOR_ACTIONS_URL: `file://${forge}-gone` });
    assert.match(away.raw, /nestor-example\/hello-action@v1: fetched from file:\/\/.*-gone\/nestor-example\/hello-action; it could not be/);
    assert.deepEqual(await engineNames(host), []);
  } finally {
    rmSync(forge, { recursive: true, force: true });
    rmSync(cache, { recursive: true, force: true });
  }
});

test('a remote JavaScript action bundled into megabytes (as most are) is copied into the job whole, and runs on the Node Nestor mounts', { timeout: 180_000 }, async () => {
  // dist/index.js as bundlers leave it: code plus megabytes that do not compress.
  const bundle = workflow({
    'action.yml': ['name: bundled', 'inputs:', '  who: { default: world }', 'outputs:', '  size: { description: bytes of the bundle }', 'runs:', '  using: node20', '  main: dist/index.js', ''].join('\n'),
    'dist/index.js': [
      "const fs = require('fs');",
      "const size = fs.statSync(__filename).size;",
      "fs.appendFileSync(process.env.GITHUB_OUTPUT, `size=${size}\\n`);",
      "console.log(`hello ${process.env['INPUT_WHO']} from a bundle of ${size} bytes`);",
      `// ${randomBytes(3 * 1024 * 1024).toString('base64')}`,
      '',
    ].join('\n'),
  });
  const forge = forgeWith('nestor-example', 'bundled-action', bundle, 'v2');
  const cache = mkdtempSync(join(tmpdir(), 'nestor-actions-cache-'));
  const dir = workflow({
    '.github/workflows/b.yml': [
      'on: push',
      'jobs:',
      '  use:',
      '    runs-on: ubuntu-latest',
      '    steps:',
      '      - id: b',
      '        uses: nestor-example/bundled-action@v2',
      '        with: { who: Nestor }',
      '      - run: echo "the bundle was ${{ steps.b.outputs.size }} bytes"',
      '',
    ].join('\n'),
  });
  try {
    const r = await nestor(['run', '--json', '-C', dir], { ...process.env, NESTOR_ACTIONS_URL: `file://${forge}`, NESTOR_INCLUDE_CACHE: cache });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const lines = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as { type: string; text?: string }).filter((e) => e.type === 'log').map((e) => e.text ?? '');
    const said = lines.find((l) => l.startsWith('hello Nestor from a bundle of '));
    assert.ok(said, lines.join('\n'));
    const size = Number(/of (\d+) bytes/.exec(said)![1]);
    assert.ok(size > 4 * 1024 * 1024, `the whole bundle reached the job: ${size} bytes`);
    assert.ok(lines.includes(`the bundle was ${size} bytes`), 'its output reached the next step');
    assert.deepEqual(await engineNames(host), []);
  } finally {
    for (const d of [forge, cache, bundle, dir]) rmSync(d, { recursive: true, force: true });
  }
});

test('github-reusable: a job calls a reusable workflow of the repository with inputs and a secret; its jobs run as build / JOB, and a later job reads the call\'s outputs', { timeout: 300_000 }, async () => {
  const out = await runExample('github-reusable', ['--secret', 'REGISTRY_TOKEN=reg-t0ken-77']);
  assert.equal(out.result.status, 'success', out.raw);
  // build.yml is read on its own too: only a caller starts it, so on a push its jobs are not run.
  assert.deepEqual(out.result.jobs.map((j) => [j.name, j.status]), [
    ['compile', 'skipped'],
    ['package', 'skipped'],
    ['version', 'success'],
    ['build / compile', 'success'],
    ['build / package', 'success'],
    ['deploy', 'success'],
  ]);
  const lines = (job: string, step: string) => out.logs.filter((l) => l.job === job && l.source === step).map((l) => l.text);
  assert.deepEqual(lines('build / compile', 'Show the inputs'), ['target=server release=true version=2.5.0', 'a release build'], "with: over github (now) and needs (as the run goes), typed as declared");
  assert.deepEqual(lines('build / package', 'Log in with the secret'), ['logging in with ********'], 'the secret under the called workflow\'s name, masked');
  assert.ok(!out.raw.includes('reg-t0ken-77'), 'the secret never reaches the log');
  assert.deepEqual(jobOf(out, 'build / compile')?.outputs, { artifact: 'server-2.5.0.tar.gz' });
  const checksum = jobOf(out, 'build / package')?.outputs?.checksum ?? '';
  assert.match(checksum, /^[0-9a-f]{12}$/);
  assert.deepEqual(lines('deploy', 'Deploy what the build made'), ['the build ended success', `deploying server-2.5.0.tar.gz (checksum ${checksum})`], "needs.build: the call's result and its workflow_call outputs");
  assert.deepEqual(await engineNames(host), []);
});
