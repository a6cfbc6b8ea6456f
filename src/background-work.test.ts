import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BackgroundWork } from './background-work.ts';

test('settled() waits for every piece of work, failed ones included, and for work added while waiting', async () => {
  const work = new BackgroundWork();
  const order: string[] = [];
  work.add(new Promise((r) => setTimeout(r, 20)).then(() => order.push('slow')));
  work.add(Promise.reject(new Error('failed removal'))).catch(() => order.push('failure seen by its owner'));
  work.add(Promise.resolve()).then(() => work.add(new Promise((r) => setTimeout(r, 40)).then(() => order.push('added later'))));
  assert.equal(work.size, 3);
  await work.settled();
  assert.deepEqual(order, ['failure seen by its owner', 'slow', 'added later']);
  assert.equal(work.size, 0);
});
