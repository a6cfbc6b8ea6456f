import { test } from 'node:test';
import assert from 'node:assert/strict';
import { countFlag } from './count-flag.ts';

test('a count flag takes whole numbers from its minimum and refuses the rest with what to give', () => {
  assert.equal(countFlag(undefined, 3, '--max-jobs'), 3);
  assert.equal(countFlag('6', 3, '--max-jobs'), 6);
  assert.equal(countFlag('0', 1, '--warm', 0), 0);
  for (const bad of ['0', '-1', '2.5', 'many', '']) assert.throws(() => countFlag(bad, 3, '--max-jobs'), { code: 'NESTOR_USAGE', message: new RegExp(`^--max-jobs ${bad}: expected a whole number of at least 1`) });
});
