import { test } from 'node:test';
import assert from 'node:assert/strict';
import { stepSlots } from './config.ts';

test('NESTOR_STEP_SLOTS: unset gives the default, a whole number is taken, anything else is refused with what to set', () => {
  assert.equal(stepSlots({}), 8);
  assert.equal(stepSlots({ NESTOR_STEP_SLOTS: '0' }), 0);
  assert.equal(stepSlots({ NESTOR_STEP_SLOTS: ' 3 ' }), 3);
  for (const bad of ['many', '-1', '2.5', '99']) {
    assert.throws(() => stepSlots({ NESTOR_STEP_SLOTS: bad }), (err: Error & { code?: string }) => err.code === 'NESTOR_CONFIG_INVALID' && /0 \(none\) to 32/.test(String((err as { hint?: string }).hint)));
  }
});
