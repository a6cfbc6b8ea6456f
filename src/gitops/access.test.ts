import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { localRepoRoots } from '../config.ts';
import type { NestorError } from '../errors.ts';
import { statusOf } from '../http-status.ts';
import { checkNewApp } from './access.ts';
import { isLocalRepo, splitRepoUrl } from './repo-url.ts';

test('local repositories: file://, absolute and relative paths; host:path and URLs are not', () => {
  for (const url of ['file:///srv/git/a.git', '/srv/git/a.git', './a.git', 'a.git', 'dir/with:colon']) assert.equal(isLocalRepo(url), true, url);
  for (const url of ['https://h/a.git', 'ssh://git@h/a.git', 'git@github.com:o/r.git', 'git://h/r']) assert.equal(isLocalRepo(url), false, url);
});

test('credentials leave the URL: https keeps them apart, ssh with a password is refused', () => {
  assert.deepEqual(splitRepoUrl('https://ci:p%40ss@git.example.com/x.git'), { url: 'https://git.example.com/x.git', credential: { username: 'ci', password: 'p@ss' } });
  assert.deepEqual(splitRepoUrl('https://git.example.com/x.git'), { url: 'https://git.example.com/x.git', credential: null });
  assert.deepEqual(splitRepoUrl('https://TOKEN@github.com/o/r'), { url: 'https://github.com/o/r', credential: { username: 'TOKEN', password: '' } });
  assert.deepEqual(splitRepoUrl('ssh://git@host/r.git'), { url: 'ssh://git@host/r.git', credential: null });
  assert.throws(() => splitRepoUrl('ssh://git:pw@host/r.git'), (err: Error & { code: string }) => err.code === 'NESTOR_REPO_URL_REFUSED' && !err.message.includes('pw'));
  assert.equal(splitRepoUrl('ssh://git:pw@host/r.git', { lenient: true }).url, 'ssh://git@host/r.git');
});

test('only the admin names a local repository or a deploy target; the admin only under the allowed roots', () => {
  const root = mkdtempSync(join(tmpdir(), 'nestor-roots-'));
  mkdirSync(join(root, 'allowed', 'a.git'), { recursive: true });
  symlinkSync('/etc', join(root, 'allowed', 'out'));
  const roots = [join(root, 'allowed')];
  const user = { admin: false };
  const admin = { admin: true };
  assert.throws(() => checkNewApp({ repoUrl: `file://${root}/allowed/a.git` }, user, roots), (err: NestorError) => err.code === 'NESTOR_ADMIN_ONLY' && statusOf(err) === 403);
  assert.throws(() => checkNewApp({ repoUrl: `${root}/allowed/a.git` }, user, roots), { code: 'NESTOR_ADMIN_ONLY' });
  assert.throws(() => checkNewApp({ repoUrl: 'https://h/a.git', target: { host: 'ssh://u@h' } }, user, roots), { code: 'NESTOR_ADMIN_ONLY' });
  checkNewApp({ repoUrl: 'https://h/a.git' }, user, roots);
  checkNewApp({ repoUrl: `file://${root}/allowed/a.git` }, admin, roots);
  checkNewApp({ repoUrl: 'https://h/a.git', target: { host: 'ssh://u@h' } }, admin, roots);
  assert.throws(() => checkNewApp({ repoUrl: '/etc/nestor.git' }, admin, roots), (err: NestorError) => err.code === 'NESTOR_REPO_OUTSIDE_ROOTS' && statusOf(err) === 403);
  assert.throws(() => checkNewApp({ repoUrl: `${root}/allowed/../a.git` }, admin, roots), { code: 'NESTOR_REPO_OUTSIDE_ROOTS' });
  assert.throws(() => checkNewApp({ repoUrl: `${root}/allowed/out` }, admin, roots), { code: 'NESTOR_REPO_OUTSIDE_ROOTS' });
  assert.throws(() => checkNewApp({ repoUrl: `${root}/allowed/a.git` }, admin, []), /none is allowed/);
});

test('NESTOR_LOCAL_REPO_ROOTS: absolute directories separated by ":", none when unset', () => {
  assert.deepEqual(localRepoRoots({}), []);
  assert.deepEqual(localRepoRoots({ NESTOR_LOCAL_REPO_ROOTS: '/srv/git: /home/ci/repos' }), ['/srv/git', '/home/ci/repos']);
  assert.throws(() => localRepoRoots({ NESTOR_LOCAL_REPO_ROOTS: 'repos' }), { code: 'NESTOR_CONFIG_INVALID' });
});
