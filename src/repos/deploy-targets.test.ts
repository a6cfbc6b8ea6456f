import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkTarget, targetRefusal } from './deploy-targets.ts';

const target = { name: 'prod', repos: ['team/*'], branches: ['main', 'release/*'] };

test('a deploy target is given to its repositories\' branches only, never to a fork or a job on its own', () => {
  assert.equal(targetRefusal(target, 'team/app', { branch: 'main' }), undefined);
  assert.equal(targetRefusal(target, 'team/app', { branch: 'release/2.1' }), undefined);
  assert.match(targetRefusal(target, 'other/app', { branch: 'main' })!, /repositories team\/\* only \(this is other\/app\)/);
  assert.match(targetRefusal(target, 'team/app', { branch: 'feature' })!, /branches main, release\/\* only \(this is feature\)/);
  assert.match(targetRefusal(target, 'team/app', {})!, /of no branch/);
  assert.match(targetRefusal(target, 'team/app', { branch: 'main', pullRequest: { fromFork: true } as never })!, /fork/);
  assert.match(targetRefusal(target, undefined, undefined)!, /submitted on its own/);
  assert.equal(targetRefusal({ ...target, branches: [] }, 'team/app', { branch: 'any' }), undefined, 'no branches: every branch');
});

test('a deploy target\'s definition is checked whole: its URL, its credentials, its repositories', () => {
  const code = (f: () => void) => {
    try {
      f();
      return 'ok';
    } catch (err) {
      return (err as { code: string }).code;
    }
  };
  assert.equal(code(() => checkTarget('prod', 'ssh://deploy@10.0.0.5:2222', { sshKey: 'k' }, ['team/app'])), 'ok');
  assert.equal(code(() => checkTarget('prod', 'tcp://10.0.0.5:2376', { tls: { ca: 'c', cert: 'c', key: 'k' } }, ['team/app'])), 'ok');
  assert.equal(code(() => checkTarget('Prod!', 'ssh://d@h', { sshKey: 'k' }, ['x'])), 'NESTOR_TARGET_NAME_INVALID');
  assert.equal(code(() => checkTarget('prod', 'http://h:1', { sshKey: 'k' }, ['x'])), 'NESTOR_TARGET_URL_INVALID');
  assert.equal(code(() => checkTarget('prod', 'ssh://h', { sshKey: 'k' }, ['x'])), 'NESTOR_TARGET_URL_INVALID');
  assert.equal(code(() => checkTarget('prod', 'ssh://d@h', {}, ['x'])), 'NESTOR_TARGET_CREDENTIALS_MISSING');
  assert.equal(code(() => checkTarget('prod', 'tcp://h:2375', {}, ['x'])), 'NESTOR_TARGET_CREDENTIALS_MISSING', 'a TCP engine only with TLS');
  assert.equal(code(() => checkTarget('prod', 'ssh://d@h', { sshKey: 'k' }, [])), 'NESTOR_TARGET_REPOS_MISSING');
});
