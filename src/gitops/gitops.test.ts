import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { extract } from 'tar-stream';
import { buildContext } from './build-context.ts';
import { parseManifest } from './manifest.ts';
import { parseDockerConfig } from '../secrets/docker-config.ts';
import { resolveInRepository } from './repo-paths.ts';
import { normaliseRepoUrl, parseEvent, providerOf, verifySignature } from './webhook.ts';
import { checkRepoUrl } from './git.ts';
import { imageTag } from './builder.ts';

const GOOD = `apiVersion: nestor.dev/v1
kind: Application
metadata: {name: shop, namespace: team}
spec:
  source: {repoURL: https://git.example.com/team/shop.git, branch: main}
  functions:
    - path: hello
      memory: 128m
      timeout: 2s
`;

test('a manifest gets its defaults: context is the function path, a Dockerfile there, no network, 10 at once', () => {
  const m = parseManifest('nestor.yaml', GOOD);
  assert.equal(m.namespace, 'team');
  const fn = m.functions[0]!;
  assert.deepEqual([fn.context, fn.dockerfile, fn.memoryMb, fn.timeoutMs, fn.network, fn.concurrency], ['hello', 'Dockerfile', 128, 2000, 'none', 10]);
});

test('an unknown manifest key is named at file:line:column with the likely key', () => {
  assert.throws(() => parseManifest('nestor.yaml', GOOD.replace('memory: 128m', 'memroy: 128m')), (err: Error & { code: string }) => {
    assert.equal(err.code, 'NESTOR_MANIFEST_INVALID');
    assert.match(err.message, /^nestor\.yaml:8:7: unknown key "memroy".*did you mean "memory"/);
    return true;
  });
});

test('malformed manifest YAML is reported with its position', () => {
  assert.throws(() => parseManifest('nestor.yaml', 'apiVersion: nestor.dev/v1\nkind: [Application\n'), /nestor\.yaml:\d+:\d+: YAML syntax/);
});

test('a wrong apiVersion and a duplicate function path are refused', () => {
  assert.throws(() => parseManifest('nestor.yaml', GOOD.replace('nestor.dev/v1', 'nestor.dev/v0')), /nestor\.yaml:1:\d+/);
  assert.throws(() => parseManifest('nestor.yaml', `${GOOD}    - path: hello\n`), /used twice/);
});

function repo(): string {
  const root = mkdtempSync(join(tmpdir(), 'nestor-repo-'));
  mkdirSync(join(root, 'fn', 'sub'), { recursive: true });
  writeFileSync(join(root, 'fn', 'Dockerfile'), 'FROM busybox\n');
  writeFileSync(join(root, 'fn', 'app.sh'), 'echo hi\n');
  writeFileSync(join(root, 'fn', 'secret.env'), 'TOKEN=x\n');
  writeFileSync(join(root, 'fn', 'sub', 'data.txt'), 'data\n');
  writeFileSync(join(root, 'fn', '.dockerignore'), 'secret.env\n');
  return root;
}

test('context and dockerfile may not leave the repository: "..", absolute paths, links out', () => {
  const root = repo();
  assert.throws(() => resolveInRepository(root, '.', '../..', 'context'), { code: 'NESTOR_PATH_OUTSIDE_REPOSITORY' });
  assert.throws(() => resolveInRepository(root, '.', '/etc', 'context'), /absolute path/);
  assert.throws(() => resolveInRepository(root, 'fn', '../../../etc/passwd', 'dockerfile'), /leaves the repository/);
  symlinkSync('/etc', join(root, 'escape'));
  assert.throws(() => resolveInRepository(root, '.', 'escape', 'context'), /symbolic link/);
  assert.equal(resolveInRepository(root, '.', 'fn/./sub/..', 'context').endsWith('/fn'), true);
});

async function entries(pack: import('tar-stream').Pack): Promise<string[]> {
  const names: string[] = [];
  const ex = extract();
  ex.on('entry', (h, s, next) => {
    names.push(h.name);
    s.resume();
    s.on('end', next);
  });
  const done = new Promise<void>((r) => ex.on('finish', () => r()));
  pack.pipe(ex);
  await done;
  return names.sort();
}

test('the build context leaves out what .dockerignore names, keeping the Dockerfile', async () => {
  const ctx = await buildContext(repo(), '.', { context: 'fn', dockerfile: 'Dockerfile' });
  assert.equal(ctx.dockerfile, 'Dockerfile');
  assert.deepEqual(await entries(ctx.archive), ['.dockerignore', 'Dockerfile', 'app.sh', 'sub/data.txt']);
});

test('a link inside the context that points out of the repository refuses the build', async () => {
  const root = repo();
  symlinkSync('/etc/passwd', join(root, 'fn', 'passwd'));
  await assert.rejects(buildContext(root, '.', { context: 'fn', dockerfile: 'Dockerfile' }), /passwd.*symbolic link/);
});

const body = Buffer.from(JSON.stringify({ ref: 'refs/heads/main', after: 'a'.repeat(40), repository: { clone_url: 'https://Git.Example.com/team/shop.git' } }));

test('GitHub and Gitea signatures are HMAC-SHA256 of the raw body; GitLab sends the secret', () => {
  const hmac = createHmac('sha256', 's3cret-value').update(body).digest('hex');
  assert.equal(verifySignature('github', { 'x-hub-signature-256': `sha256=${hmac}` }, body, 's3cret-value'), true);
  assert.equal(verifySignature('github', { 'x-hub-signature-256': `sha256=${hmac}` }, Buffer.concat([body, Buffer.from(' ')]), 's3cret-value'), false);
  assert.equal(verifySignature('gitea', { 'x-gitea-signature': hmac }, body, 's3cret-value'), true);
  assert.equal(verifySignature('gitea', { 'x-gitea-signature': hmac }, body, 'other-secret'), false);
  assert.equal(verifySignature('gitlab', { 'x-gitlab-token': 's3cret-value' }, body, 's3cret-value'), true);
  assert.equal(verifySignature('gitlab', {}, body, 's3cret-value'), false);
});

test('push payloads give branch, commit and comparable repository URLs', () => {
  const headers = { 'x-github-event': 'push' };
  assert.equal(providerOf(headers), 'github');
  const e = parseEvent('github', headers, JSON.parse(body.toString()));
  assert.equal(e.branch, 'main');
  assert.deepEqual(e.repoUrls, [normaliseRepoUrl('https://git.example.com/team/shop')]);
  assert.equal(normaliseRepoUrl('git@git.example.com:team/shop.git'), 'git.example.com/team/shop');
  assert.equal(normaliseRepoUrl('file:///srv/git/shop.git/'), '/srv/git/shop');
});

test('repository URLs that Git would run as commands or options are refused', () => {
  assert.throws(() => checkRepoUrl('ext::sh -c touch% /tmp/pwned'), /ext::/);
  assert.throws(() => checkRepoUrl('--upload-pack=touch /tmp/x'), /starts with "-"/);
  checkRepoUrl('https://git.example.com/a.git');
});

test('a Docker config.json gives credentials per registry, from auth or user and password', () => {
  const creds = parseDockerConfig(JSON.stringify({ auths: { 'https://index.docker.io/v1/': { auth: Buffer.from('me:pw:with:colons').toString('base64') }, 'reg.example.com:5000': { username: 'u', password: 'p' } } }));
  assert.deepEqual(creds, [{ registry: 'index.docker.io', username: 'me', secret: 'pw:with:colons' }, { registry: 'reg.example.com:5000', username: 'u', secret: 'p' }]);
  assert.throws(() => parseDockerConfig('{"credsStore": "desktop"}'), { code: 'NESTOR_DOCKER_CONFIG_INVALID' });
});

test('image tags sort by time and name the commit', () => {
  assert.equal(imageTag('0123456789abcdef', new Date('2026-11-23T01:02:03.456Z')), '20261123T010203Z-0123456');
});
