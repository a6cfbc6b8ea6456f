import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { networkInterfaces } from 'node:os';
import { promisify } from 'node:util';
import { NESTOR } from '../helpers.ts';
import { ADMIN, api, tempDir } from './harness.ts';
import { freePort, startRunnerProcess, startServerProcess, waitForJob } from './processes.ts';
import { deliver, githubPush, TestRepo } from './repo-fixture.ts';
import { startRecordingForge } from '../support/recording-forge.ts';

const run = promisify(execFile);

/**
 * The whole path on real parts: a Git repository (a bare one over file://), `nestor repos add`,
 * a push, a signed webhook, the pipeline of the repository's own file run by a runner process on
 * a real nested engine from its own mirror of the repository, the status on a recording forge,
 * and `nestor pipelines list` showing it.
 */
const PIPELINE = `steps:
  - name: build
    image: nestor/base:busybox
    commands:
      - cat message.txt
      - test -d .git && echo "git work tree here"
  - name: check
    image: nestor/base:busybox
    commands:
      - grep -q hello message.txt
  - name: token
    image: nestor/runner:bookworm-1
    secrets: [DEPLOY_TOKEN]
    commands:
      - echo "deploying with $DEPLOY_TOKEN"
      - git ls-remote "http://nestor:$CI_JOB_TOKEN@\${NESTOR_GIT_URL#http://}" | grep -q refs/heads/main && echo "the job token reads its repository"
      - if git ls-remote "http://nestor:$CI_JOB_TOKEN@\${NESTOR_SERVER_URL#http://}/git/team/other.git" 2>err; then echo "read another repository"; exit 1; fi
      - grep -q 403 err && echo "refused on another repository"
      - cat err
`;

/** An address of this machine that a job's engine reaches (not loopback, not a Docker bridge): the server's public URL's host. */
function reachableAddress(): string {
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    if (/^(docker|br-|veth|lo)/.test(name)) continue;
    const v4 = addrs?.find((a) => a.family === 'IPv4' && !a.internal);
    if (v4) return v4.address;
  }
  throw new Error('no non-loopback IPv4 address on this machine for jobs to reach the server at');
}

test('push → signed webhook → the repository\'s pipeline runs on an engine, its status reaches the forge, `nestor pipelines list` shows it', { timeout: 240_000 }, async () => {
  const forge = await startRecordingForge();
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  // Jobs reach the server (with their token) at its public URL, from inside their engines.
  const server = await startServerProcess(port, tempDir(), { NESTOR_PUBLIC_URL: `http://${reachableAddress()}:${port}` });
  const runner = await startRunnerProcess(url, 'ci-runner', { NESTOR_REPO_CACHE: tempDir('nestor-mirrors-') });
  const cli = (...args: string[]) => run(NESTOR, args, { env: { ...process.env, NESTOR_SERVER: url, NESTOR_TOKEN: ADMIN } });
  try {
    const repo = new TestRepo();
    const added = await cli('repos', 'add', repo.url, '--forge', 'gitea', '--forge-url', `${forge.url}/api/v1`, '--forge-token', 'gitea-token-1', '--json');
    const { webhook } = JSON.parse(added.stdout) as { webhook: { path: string; secret: string } };
    await cli('repos', 'add', new TestRepo().url, '--name', 'team/other');
    await run(NESTOR, ['secrets', 'set', 'DEPLOY_TOKEN', '--repo', 'team/app', '--value', 'dt-9f8e7d6c5b4a'], { env: { ...process.env, NESTOR_SERVER: url, NESTOR_TOKEN: ADMIN } });
    const pushed = repo.commit({ '.nestor.yml': PIPELINE, 'message.txt': 'hello from the repository\n' }, 'First pipeline');

    const forged = await deliver(`${url}${webhook.path}`, githubPush('forged', { ref: 'refs/heads/main', ...pushed, message: 'First pipeline' }));
    assert.equal(forged.status, 401);
    const created = await deliver(`${url}${webhook.path}`, githubPush(webhook.secret, { ref: 'refs/heads/main', ...pushed, message: 'First pipeline' }));
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const done = await waitForJob(url, String(created.body.pipeline), 180_000);
    const jobs = (await api<{ jobs: { id: string; status: string }[] }>(url, 'GET', `/api/jobs/${created.body.pipeline}`)).body.jobs;
    const logs = (await api<{ lines: { text: string }[] }>(url, 'GET', `/api/jobs/${jobs[0]!.id}/logs`)).body.lines.map((l) => l.text);
    assert.equal(done.status, 'succeeded', `${JSON.stringify(done)}\n${logs.join('\n')}\n${runner.output()}`);
    assert.ok(logs.includes('hello from the repository'), logs.join('\n'));
    assert.ok(logs.includes('git work tree here'), 'the workspace is a Git work tree of the commit');
    assert.ok(logs.some((l) => new RegExp(`checked out team/app ${pushed.after.slice(0, 12)}`).test(l)), logs.join('\n'));
    // The secret reaches the step and is masked in its log; the job token reads its own repository only.
    assert.ok(logs.includes('deploying with ********'), logs.join('\n'));
    assert.equal(logs.join('\n').includes('dt-9f8e7d6c5b4a'), false, 'the secret never shows in the log');
    assert.ok(logs.includes('the job token reads its repository'), logs.join('\n'));
    assert.ok(logs.includes('refused on another repository'), logs.join('\n'));
    assert.equal(logs.some((l) => l.includes('njt_')), false, 'the job token is masked too');

    const statuses = () => forge.calls.filter((c) => c.path === `/api/v1/repos/team/app/statuses/${pushed.after}`).map((c) => c.body.state);
    await forge.waitFor((c) => c.path.endsWith(pushed.after) && c.body.state === 'success', 10_000);
    assert.equal(statuses()[0], 'pending');
    assert.equal(forge.calls.find((c) => c.body.state === 'success')!.headers.authorization, 'token gitea-token-1');

    const listed = await cli('pipelines', 'list', '--repo', 'team/app');
    assert.match(listed.stdout, /team\/app#1\s+succeeded\s+push\s+main\s+/);
    assert.match(listed.stdout, /First pipeline/);
    const shown = await cli('pipelines', 'show', 'team/app#1');
    assert.match(shown.stdout, /succeeded/);
  } finally {
    await runner.stop();
    await server.stop();
    await forge.close();
  }
});

/**
 * GitLab's `interruptible` and a restart of the failed jobs on real engines: a second push while
 * the first pipeline's job sleeps cancels it (its engine goes), the second fails on a gate that
 * a secret (a GitLab CI/CD variable) keeps closed, and once the secret opens it a restart of the
 * failed jobs runs only the gate, the job before it carried over.
 */
const GITLAB = `stages: [prepare, gate]
prepare:
  stage: prepare
  image: nestor/base:busybox
  interruptible: true
  script:
    - echo "prepared $CI_COMMIT_SHORT_SHA"
    - if [ -f slow ]; then echo "sleeping"; sleep 120; fi
gate:
  stage: gate
  image: nestor/base:busybox
  interruptible: true
  script:
    - echo "the gate is $GATE"
    - test "$GATE" = open-sesame
`;

test('a second push cancels the first pipeline where the file says interruptible; a restart of the failed jobs runs only them, on engines', { timeout: 240_000 }, async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = await startServerProcess(port, tempDir());
  const runner = await startRunnerProcess(url, 'ci-runner-2', { NESTOR_REPO_CACHE: tempDir('nestor-mirrors-') });
  const cli = (...args: string[]) => run(NESTOR, args, { env: { ...process.env, NESTOR_SERVER: url, NESTOR_TOKEN: ADMIN } });
  const jobsOf = async (id: string) => (await api<{ jobs: { id: string; name: string; status: string }[] }>(url, 'GET', `/api/jobs/${id}`)).body.jobs;
  const logOf = async (jobId: string) => (await api<{ lines: { text: string }[] }>(url, 'GET', `/api/jobs/${jobId}/logs`)).body.lines.map((l) => l.text);
  try {
    const repo = new TestRepo();
    const { webhook } = JSON.parse((await cli('repos', 'add', repo.url, '--json')).stdout) as { webhook: { path: string; secret: string } };
    await cli('secrets', 'set', 'GATE', '--repo', 'team/app', '--value', 'closed-for-now');
    const hook = `${url}${webhook.path}`;
    const first = repo.commit({ '.gitlab-ci.yml': GITLAB, slow: 'yes\n' }, 'Slow one');
    const p1 = await deliver(hook, githubPush(webhook.secret, { ref: 'refs/heads/main', ...first, message: 'Slow one' }));
    assert.equal(p1.status, 201, JSON.stringify(p1.body));
    const prepare1 = (await jobsOf(String(p1.body.pipeline))).find((j) => j.name === 'prepare')!;
    for (let i = 0; i < 600 && !(await logOf(prepare1.id)).includes('sleeping'); i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok((await logOf(prepare1.id)).includes('sleeping'), runner.output());

    const second = repo.commit({ slow: null }, 'Fast one');
    const p2 = await deliver(hook, githubPush(webhook.secret, { ref: 'refs/heads/main', ...second, message: 'Fast one' }));
    assert.equal(p2.status, 201, JSON.stringify(p2.body));
    const cancelled = await waitForJob(url, String(p1.body.pipeline), 30_000);
    assert.equal(cancelled.status, 'cancelled', 'the sleeping pipeline stops well before its sleep ends');
    const failed = await waitForJob(url, String(p2.body.pipeline), 120_000);
    assert.equal(failed.status, 'failed');
    const gate2 = (await jobsOf(String(p2.body.pipeline))).find((j) => j.name === 'gate')!;
    assert.ok((await logOf(gate2.id)).includes('the gate is ********'), 'the GitLab variable is the secret, masked');

    await cli('secrets', 'set', 'GATE', '--repo', 'team/app', '--value', 'open-sesame');
    const restarted = JSON.parse((await cli('pipelines', 'restart', 'team/app#2', '--failed', '--json')).stdout) as { id: string; number: number; jobs: { name: string; status: string }[] };
    assert.equal(restarted.number, 3);
    assert.deepEqual(restarted.jobs.map((j) => j.name), ['prepare', 'gate']);
    assert.equal(restarted.jobs[0]!.status, 'succeeded', 'prepare is carried over, not run again');
    assert.ok(['queued', 'running'].includes(restarted.jobs[1]!.status), 'the gate runs again (the runner may have it already)');
    // Followed from the CLI until it ends: the gate's lines, and exit code 0 as it succeeded.
    const followed = await cli('pipelines', 'logs', 'team/app#3', '-f');
    assert.match(followed.stdout, /the gate is \*{8}/);
    assert.match(followed.stdout, /team\/app#3 succeeded/);
    const done = await waitForJob(url, restarted.id, 120_000);
    assert.equal(done.status, 'succeeded', runner.output());
    const jobs = JSON.parse((await cli('jobs', 'list', '--json')).stdout) as { name: string; status: string; repo: string; number: number }[];
    assert.deepEqual(jobs.filter((j) => j.number === 1).map((j) => j.status).sort(), ['cancelled', 'cancelled']);
    const listed = await cli('pipelines', 'list', '--repo', 'team/app');
    assert.match(listed.stdout, /team\/app#3\s+succeeded/);
    assert.match(listed.stdout, /team\/app#2\s+failed/);
    assert.match(listed.stdout, /team\/app#1\s+cancelled/);

    // The repository's timeout stops a job that runs past it, and fails it saying so.
    assert.equal((await api(url, 'PATCH', '/api/repos/team%2Fapp', { timeout_s: 10 })).status, 200);
    const slow = repo.commit({ slow: 'again\n' }, 'Slow again');
    const p4 = await deliver(hook, githubPush(webhook.secret, { ref: 'refs/heads/main', ...slow, message: 'Slow again' }));
    const started = Date.now();
    const timedOut = await waitForJob(url, String(p4.body.pipeline), 60_000);
    assert.equal(timedOut.status, 'failed');
    assert.ok(Date.now() - started < 40_000, 'stopped at its timeout, not at the end of its sleep');
    const prepare4 = (await jobsOf(String(p4.body.pipeline))).find((j) => j.name === 'prepare')!;
    assert.ok((await logOf(prepare4.id)).some((l) => l.includes("ran past the repository's timeout")), (await logOf(prepare4.id)).join('\n'));
  } finally {
    await runner.stop();
    await server.stop();
  }
});

test('a manual GitLab job waits in its pipeline until someone plays it; then it runs on an engine and the pipeline ends again', { timeout: 180_000 }, async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = await startServerProcess(port, tempDir());
  const runner = await startRunnerProcess(url, 'ci-runner-3', { NESTOR_REPO_CACHE: tempDir('nestor-mirrors-') });
  const cli = (...args: string[]) => run(NESTOR, args, { env: { ...process.env, NESTOR_SERVER: url, NESTOR_TOKEN: ADMIN } });
  try {
    const repo = new TestRepo();
    const { webhook } = JSON.parse((await cli('repos', 'add', repo.url, '--json')).stdout) as { webhook: { path: string; secret: string } };
    const file = `build:\n  image: nestor/base:busybox\n  script: [echo built]\ndeploy:\n  image: nestor/base:busybox\n  when: manual\n  script: [echo "deploying $CI_COMMIT_SHORT_SHA"]\n`;
    const c = repo.commit({ '.gitlab-ci.yml': file }, 'Deployable');
    const p = await deliver(`${url}${webhook.path}`, githubPush(webhook.secret, { ref: 'refs/heads/main', ...c, message: 'Deployable' }));
    assert.equal(p.status, 201, JSON.stringify(p.body));
    const first = await waitForJob(url, String(p.body.pipeline), 120_000);
    assert.equal(first.status, 'succeeded');
    const before = JSON.parse((await cli('pipelines', 'show', 'team/app#1', '--json')).stdout) as { jobs: { name: string; status: string; error: string | null }[] };
    assert.deepEqual(before.jobs.map((j) => [j.name, j.status]), [['build', 'succeeded'], ['deploy', 'skipped']]);
    assert.match(before.jobs[1]!.error ?? '', /manual job/);
    await assert.rejects(cli('pipelines', 'play', 'team/app#1', 'build'), /no manual job build/);

    await cli('pipelines', 'play', 'team/app#1', 'deploy');
    const played = await waitForJob(url, String(p.body.pipeline), 120_000, (j) => j.status === 'succeeded' && (j.jobs as { status: string }[] | undefined)?.every((x) => x.status === 'succeeded') === true);
    assert.equal(played.status, 'succeeded', runner.output());
    const logs = (await cli('pipelines', 'logs', 'team/app#1')).stdout;
    assert.match(logs, new RegExp(`deploying ${c.after.slice(0, 8)}`));
  } finally {
    await runner.stop();
    await server.stop();
  }
});
