import { test } from 'node:test';
import assert from 'node:assert/strict';
import { supersedeReason } from './supersede.ts';

const push = { event: 'push' as const, ref: 'refs/heads/main' };

test('a newer push cancels an older pipeline of its branch with auto-cancel, or when every job started is interruptible', () => {
  const plain = { trigger: push, jobs: [{ status: 'running', interruptible: false }] };
  assert.equal(supersedeReason(plain, push, false), undefined, 'nothing asks for it');
  assert.match(supersedeReason(plain, push, true)!, /auto-cancel/);
  const interruptible = { trigger: push, jobs: [{ status: 'running', interruptible: true }, { status: 'waiting', interruptible: false }] };
  assert.match(supersedeReason(interruptible, push, false)!, /interruptible/);
  const deploying = { trigger: push, jobs: [{ status: 'succeeded', interruptible: true }, { status: 'running', interruptible: false }] };
  assert.equal(supersedeReason(deploying, push, false), undefined, 'a non-interruptible job has started: it runs to its end');
  assert.equal(supersedeReason(interruptible, { event: 'push', ref: 'refs/heads/other' }, true), undefined, 'another branch');
  assert.equal(supersedeReason({ trigger: { event: 'tag', ref: 'refs/tags/v1' }, jobs: [] }, { event: 'tag', ref: 'refs/tags/v1' }, true), undefined, 'a tag is never superseded');
});
