import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { provision } from '../../src/engine/nested/provision.ts';
import type { NestedEngine } from '../../src/engine/nested/nested-engine.ts';
import { hostEngine, NESTOR } from '../helpers.ts';
import { startSshd, type TestSshd } from '../sshd.ts';
import { ADMIN, api, tempDir } from './harness.ts';
import { freePort, startRunnerProcess, startServerProcess, waitForJob } from './processes.ts';
import { deliver, githubPush, TestRepo } from './repo-fixture.ts';

const run = promisify(execFile);

/**
 * A deploy target on real parts: the "other machine" is a nested engine reached only through a
 * real sshd on loopback (as a host that is not the runner's would be). The admin defines the
 * target for one repository's main branch; a step that names it (`deploy:`, and another through
 * NESTOR_DEPLOY_TARGET) talks to that engine, a step that does not talks to its job's own, and
 * neither the key nor anything of it reaches the workspace, the containers or the log. The same
 * file on another branch is refused before any step runs, saying why.
 */
const host = await hostEngine();
let far: NestedEngine;
let sshd: TestSshd;
let farTcp: Record<string, string>;

before(async () => {
  far = await provision({ host, publishPort: 0, isolation: 'dind-caps', images: ['nestor/base:busybox'] });
  farTcp = far.cliEnvironment(mkdtempSync(join(tmpdir(), 'nestor-far-certs-')));
  sshd = await startSshd(farTcp);
});
after(async () => {
  sshd?.stop();
  await far?.destroy();
});

const PIPELINE = `steps:
  - name: deploy
    image: nestor/runner:bookworm-1
    deploy: far
    commands:
      - echo "target=$(docker info --format '{{.Name}}')"
      - docker run --rm --label dev.nestor.test=deploy-target nestor/base:busybox echo ran on the target || docker version --format 'server {{.Server.Version}}'
      - kind=OPENSSH
      - if grep -rqs "$kind PRIVATE KEY" . /run /root /tmp /etc /home; then echo "the target's key is in reach"; exit 1; fi
      - if env | grep -q "PRIVATE KEY"; then echo "a key is in the environment"; exit 1; fi
      - ls /run/nestor/deploy/far
      - echo "no key in reach"
  - name: by-variable
    image: nestor/runner:bookworm-1
    environment:
      NESTOR_DEPLOY_TARGET: far
    commands:
      - echo "variable target=$(docker info --format '{{.Name}}')"
  - name: over-tls
    image: nestor/runner:bookworm-1
    deploy: far-tls
    commands:
      - echo "tls target=$(docker info --format '{{.Name}}')"
  - name: own-engine
    image: nestor/runner:bookworm-1
    commands:
      - echo "own=$(docker info --format '{{.Name}}')"
`;

test('a step naming a deploy target talks to that engine through the runner, over ssh or TLS, with no credential in reach; another branch is refused', { timeout: 240_000 }, async () => {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const server = await startServerProcess(port, tempDir());
  const runner = await startRunnerProcess(url, 'deployer', { NESTOR_REPO_CACHE: tempDir('nestor-mirrors-') });
  const cli = (...args: string[]) => run(NESTOR, args, { env: { ...process.env, NESTOR_SERVER: url, NESTOR_TOKEN: ADMIN } });
  const jobsOf = async (id: string) => (await api<{ jobs: { id: string; name: string; status: string; error?: string }[] }>(url, 'GET', `/api/jobs/${id}`)).body.jobs;
  const logOf = async (jobId: string) => (await api<{ lines: { text: string }[] }>(url, 'GET', `/api/jobs/${jobId}/logs`)).body.lines.map((l) => l.text);
  try {
    const refusedUrl = await cli('targets', 'add', 'far', 'http://127.0.0.1:1', '--repo', 'team/app').then(() => '', (e: { stderr: string }) => e.stderr);
    assert.match(refusedUrl, /ssh:\/\/ or tcp:\/\//, `a target is ssh:// or tcp://, said with what to give:\n${refusedUrl}`);
    const added = await cli('targets', 'add', 'far', `ssh://root@127.0.0.1:${sshd.port}`, '--ssh-key', sshd.clientKey, '--repo', 'team/*', '--branch', 'main', '--json');
    assert.equal(JSON.parse(added.stdout).url, `ssh://root@127.0.0.1:${sshd.port}`);
    const listed = await api<{ targets: Record<string, unknown>[] }>(url, 'GET', '/api/targets');
    assert.deepEqual(Object.keys(listed.body.targets[0]!).sort(), ['branches', 'name', 'repos', 'updated_at', 'updated_by', 'url'], 'credentials are never listed');
    const key = readFileSync(sshd.clientKey, 'utf8');
    assert.equal(JSON.stringify(listed.body).includes(key.split('\n')[1]!), false);

    const certs = farTcp.DOCKER_CERT_PATH!;
    await cli('targets', 'add', 'far-tls', farTcp.DOCKER_HOST!, '--tls-ca', join(certs, 'ca.pem'), '--tls-cert', join(certs, 'cert.pem'), '--tls-key', join(certs, 'key.pem'), '--repo', 'team/app');
    const repo = new TestRepo();
    const { webhook } = JSON.parse((await cli('repos', 'add', repo.url, '--json')).stdout) as { webhook: { path: string; secret: string } };
    const hook = `${url}${webhook.path}`;
    const pushed = repo.commit({ '.nestor.yml': PIPELINE }, 'Deploy');
    const p1 = await deliver(hook, githubPush(webhook.secret, { ref: 'refs/heads/main', ...pushed, message: 'Deploy' }));
    assert.equal(p1.status, 201, JSON.stringify(p1.body));
    const done = await waitForJob(url, String(p1.body.pipeline), 180_000);
    const [job] = await jobsOf(String(p1.body.pipeline));
    const logs = await logOf(job!.id);
    const text = logs.join('\n');
    assert.equal(done.status, 'succeeded', `${JSON.stringify(done)}\n${text}\n${runner.output()}`);
    const farName = (await far.client.docker.info()).Name;
    assert.ok(logs.includes(`target=${farName}`), `the deploy step talks to the target's engine:\n${text}`);
    assert.ok(logs.includes(`variable target=${farName}`), `NESTOR_DEPLOY_TARGET does the same in any format:\n${text}`);
    assert.ok(logs.includes(`tls target=${farName}`), `a tcp:// target with TLS is reached the same way:\n${text}`);
    const own = logs.find((l) => l.startsWith('own='));
    assert.ok(own && own !== `own=${farName}`, `a step naming no target talks to its job's own engine:\n${text}`);
    assert.ok(logs.includes('ran on the target'), text);
    assert.ok(logs.includes('no key in reach'), text);
    assert.ok(logs.includes('ca.pem') && logs.includes('key.pem'), `the step has its own client certificate for the gateway, outside the workspace:\n${text}`);
    assert.ok(logs.some((l) => /deploy target far is reached through this runner/.test(l)), text);
    for (const line of key.split('\n').filter((l) => l.length > 20)) assert.equal(text.includes(line), false, 'no line of the key is in the log');

    const other = repo.commit({ 'note.txt': 'x\n' }, 'Elsewhere', 'feature');
    const p2 = await deliver(hook, githubPush(webhook.secret, { ref: 'refs/heads/feature', ...other, message: 'Elsewhere' }));
    assert.equal(p2.status, 201, JSON.stringify(p2.body));
    const refused = await waitForJob(url, String(p2.body.pipeline), 120_000);
    assert.equal(refused.status, 'failed');
    const [job2] = await jobsOf(String(p2.body.pipeline));
    const shown = await api<{ error?: string }>(url, 'GET', `/api/jobs/${job2!.id}`);
    assert.match(String(shown.body.error), /deploys to far, which this job is not given: it is for the branches main only \(this is feature\)/);
    assert.equal((await logOf(job2!.id)).some((l) => l === 'no key in reach'), false, 'no step of the refused job ran');

    await cli('targets', 'rm', 'far');
    await cli('targets', 'rm', 'far-tls');
    assert.deepEqual((await api<{ targets: unknown[] }>(url, 'GET', '/api/targets')).body.targets, []);
  } finally {
    await runner.stop();
    await server.stop();
  }
});
