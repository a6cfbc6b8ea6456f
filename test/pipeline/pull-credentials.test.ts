import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import bcrypt from 'bcryptjs';
import type Docker from 'dockerode';
import { LOCAL_BASE_IMAGE, LOCAL_REGISTRY_IMAGE, OFFICIAL_REGISTRY_IMAGE } from '../../src/engine/images/image-names.ts';
import { firstPresent, imageExists } from '../../src/engine/images/local-images.ts';
import { ImagePublisher } from '../../src/engine/images/publish.ts';
import { ImageSupply } from '../../src/engine/images/supply.ts';
import { nestorLabels } from '../../src/engine/labels.ts';
import { engineNames, hostEngine, nestor, objectsOf } from '../helpers.ts';

// Private job images, pulled by the job's own engine from a registry that wants a password
// (htpasswd), with the credentials of a Drone file's image_pull_secrets and of GitLab's
// DOCKER_AUTH_CONFIG, through `nestor run` as a user runs it.

const host = await hostEngine();
const PASSWORD = 'pu11-pa55-never-shown';
const WRONG = 'wr0ng-pa55-never-shown';
let registry: Docker.Container;
let address = '';
let authDir = '';
const dirs: string[] = [];

const configFor = (password: string) => JSON.stringify({ auths: { [address]: { auth: Buffer.from(`puller:${password}`).toString('base64') } } });
const probe = () => `${address}/private/probe:1`;
const svc = () => `${address}/private/svc:1`;

before(async () => {
  authDir = mkdtempSync(join(tmpdir(), 'nestor-pull-htpasswd-'));
  writeFileSync(join(authDir, 'htpasswd'), `puller:${bcrypt.hashSync(PASSWORD, 8)}\n`);
  // Published on the supply network's gateway: an address of this host that nested engines reach.
  const supply = await ImageSupply.start(host);
  const gateway = supply.registry.gateway;
  await supply.close();
  registry = await host.docker.createContainer({
    Image: await firstPresent(host.docker, [OFFICIAL_REGISTRY_IMAGE, LOCAL_REGISTRY_IMAGE]),
    Env: ['REGISTRY_AUTH=htpasswd', 'REGISTRY_AUTH_HTPASSWD_REALM=nestor-test', 'REGISTRY_AUTH_HTPASSWD_PATH=/auth/htpasswd', 'REGISTRY_LOG_LEVEL=warn'],
    Labels: nestorLabels('registry', { 'dev.nestor.test': 'pull-credentials' }),
    HostConfig: { Binds: [`${authDir}:/auth:ro`], PortBindings: { '5000/tcp': [{ HostIp: gateway, HostPort: '' }] }, Memory: 256 * 1024 * 1024 },
  });
  await registry.start();
  const port = (await registry.inspect()).NetworkSettings.Ports['5000/tcp']![0]!.HostPort;
  address = `${gateway}:${port}`;
  // Copied straight into the registry over its API: the host engine never has these names, so
  // the job's engine cannot be given them from the host and must pull them.
  const publisher = new ImagePublisher(host.docker, { url: `http://${address}`, authorization: `Basic ${Buffer.from(`puller:${PASSWORD}`).toString('base64')}` });
  await waitForRegistry();
  await publisher.publish(LOCAL_BASE_IMAGE, 'private/probe', '1');
  await publisher.publish(LOCAL_BASE_IMAGE, 'private/svc', '1');
  assert.equal(await imageExists(host.docker, probe()), false, 'the host engine does not have the image');
});

after(async () => {
  await registry?.remove({ force: true, v: true });
  for (const d of [authDir, ...dirs]) if (d) rmSync(d, { recursive: true, force: true });
});

async function waitForRegistry(): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const status = await fetch(`http://${address}/v2/`).then((r) => r.status, () => 0);
    if (status === 401) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the test registry at ${address} did not answer`);
}

function project(file: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'nestor-pull-'));
  dirs.push(dir);
  writeFileSync(join(dir, file), text);
  return dir;
}

interface Result {
  code: number;
  all: string;
  logs: string[];
  notices: string[];
  jobs: { status: string; error?: string; engine: string }[];
}

/** `nestor run --json`, the engine told to reach the test registry over HTTP; secrets from the environment. */
async function run(dir: string, args: string[], secrets: Record<string, string> = {}): Promise<Result> {
  const r = await nestor(['run', '--json', '-C', dir, ...args], { ...process.env, ...secrets, NESTOR_INSECURE_REGISTRIES: address });
  const events = r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { type: string; text?: string; jobs?: Result['jobs'] });
  return {
    code: r.code,
    all: r.stdout + r.stderr,
    logs: events.filter((e) => e.type === 'log').map((e) => e.text!),
    notices: events.filter((e) => e.type === 'notice').map((e) => e.text!),
    jobs: events.find((e) => e.type === 'result')?.jobs ?? [],
  };
}

/** Neither the password nor anything that encodes it, anywhere in what the run printed. */
function assertNothingShown(r: Result, password: string) {
  for (const s of [password, Buffer.from(`puller:${password}`).toString('base64'), `puller:${password}`]) assert.ok(!r.all.includes(s), `the run's output shows ${s}`);
}

/** The run's engines are gone, with everything labelled with them (other suites' engines may come and go meanwhile). */
async function assertNothingLeft(r: Result) {
  const live = await engineNames(host);
  for (const j of r.jobs) {
    assert.ok(j.engine, 'the job had an engine');
    assert.equal(await objectsOf(host, j.engine), 0, `engine ${j.engine} is gone`);
    assert.ok(!live.some((n) => n.includes(j.engine)), `engine ${j.engine} is not listed`);
  }
}

const drone = () =>
  [
    'kind: pipeline',
    'type: docker',
    'name: private',
    'image_pull_secrets: [dockerconfig]',
    'services:',
    '  - name: cache',
    `    image: ${svc()}`,
    '    commands: [sleep 60]',
    'steps:',
    '  - name: probe',
    `    image: ${probe()}`,
    '    commands:',
    '      - echo ran-from-private',
    '      - echo "config=${DOCKER_AUTH_CONFIG:-unset} secret=${DOCKERCONFIG:-unset}"',
    '',
  ].join('\n');

test('Drone: step and service images are pulled with image_pull_secrets; none of it is shown or given to a container', async () => {
  const r = await run(project('.drone.yml', drone()), ['--secret', 'dockerconfig'], { dockerconfig: configFor(PASSWORD) });
  assert.equal(r.code, 0, r.all);
  assert.ok(r.logs.includes('ran-from-private'), r.all);
  assert.ok(r.logs.includes('config=unset secret=unset'), r.all);
  assert.ok(r.notices.some((n) => n.includes(`registry credentials in the secret dockerconfig (for ${address})`)), r.notices.join('\n'));
  assertNothingShown(r, PASSWORD);
  await assertNothingLeft(r);
});

test('Drone: a pull secret not given stops the run before any engine, naming it where it is written', async () => {
  const r = await run(project('.drone.yml', drone()), []);
  assert.equal(r.code, 2, r.all);
  assert.match(r.all, /\.drone\.yml:4:\d+: pipeline private pulls its images with the registry credentials in the secret \\?"dockerconfig\\?".*--secret dockerconfig=VALUE/);
  assert.deepEqual(r.jobs, [], 'no job ran');
  assert.ok(!r.notices.some((n) => /^engine /.test(n)), 'no engine was started');
});

test('Drone: credentials the registry refuses fail the job, naming the image, the registry and the secret', async () => {
  const r = await run(project('.drone.yml', drone()), ['--secret', 'dockerconfig'], { dockerconfig: configFor(WRONG) });
  assert.equal(r.code, 1, r.all);
  const error = r.jobs[0]?.error ?? '';
  assert.match(error, new RegExp(`^Image ${address.replace(/\./g, '\\.')}/private/(probe|svc):1 cannot be pulled from ${address.replace(/\./g, '\\.')}: the registry refused the credentials from the secret dockerconfig \\(unauthorized`), r.all);
  assert.ok(r.notices.some((n) => n.startsWith('→ Check the "auths" entry')), r.notices.join('\n'));
  assert.ok(!r.notices.some((n) => n.includes('image cache')), 'the image cache is not blamed');
  assertNothingShown(r, WRONG);
  await assertNothingLeft(r);
});

const gitlab = (variables = '') =>
  [
    variables,
    'probe:',
    `  image: ${probe()}`,
    '  services:',
    `    - name: ${svc()}`,
    '      alias: cache',
    '      command: [sleep, "60"]',
    '  script:',
    '    - echo ran-from-private',
    '    - echo "config=${DOCKER_AUTH_CONFIG:-unset}"',
    '',
  ].join('\n');

test('GitLab: DOCKER_AUTH_CONFIG given as a secret pulls the job\'s image and services; no container gets it', async () => {
  const r = await run(project('.gitlab-ci.yml', gitlab()), ['--secret', 'DOCKER_AUTH_CONFIG'], { DOCKER_AUTH_CONFIG: configFor(PASSWORD) });
  assert.equal(r.code, 0, r.all);
  assert.ok(r.logs.includes('ran-from-private'), r.all);
  assert.ok(r.logs.includes('config=unset'), r.all);
  assertNothingShown(r, PASSWORD);
  await assertNothingLeft(r);
});

test('GitLab: DOCKER_AUTH_CONFIG written in the file\'s variables is used too, and the job has it, its passwords masked', async () => {
  const written = `variables:\n  DOCKER_AUTH_CONFIG: '${configFor(PASSWORD)}'\n`;
  const r = await run(project('.gitlab-ci.yml', gitlab(written)), []);
  assert.equal(r.code, 0, r.all);
  assert.ok(r.logs.some((l) => l.startsWith('config=') && l !== 'config=unset' && l.includes('****')), r.all);
  assert.ok(r.notices.some((n) => n.includes('variable DOCKER_AUTH_CONFIG')), r.notices.join('\n'));
  assertNothingShown(r, PASSWORD);
});

test('GitLab: without DOCKER_AUTH_CONFIG the pull is refused, and the error says it was not given', async () => {
  const r = await run(project('.gitlab-ci.yml', gitlab()), []);
  assert.equal(r.code, 1, r.all);
  assert.match(r.jobs[0]?.error ?? '', /cannot be pulled from .*: the registry asks for credentials, and the secret or variable DOCKER_AUTH_CONFIG that would hold them was not given/, r.all);
  assert.ok(r.notices.some((n) => n.startsWith('→ Give the run DOCKER_AUTH_CONFIG')), r.notices.join('\n'));
  await assertNothingLeft(r);
});
