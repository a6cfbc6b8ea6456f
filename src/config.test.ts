import { test } from 'node:test';
import assert from 'node:assert/strict';
import { secretKey, stepSlots } from './config.ts';

test('NESTOR_STEP_SLOTS: unset gives the default, a whole number is taken, anything else is refused with what to set', () => {
  assert.equal(stepSlots({}), 8);
  assert.equal(stepSlots({ NESTOR_STEP_SLOTS: '0' }), 0);
  assert.equal(stepSlots({ NESTOR_STEP_SLOTS: ' 3 ' }), 3);
  for (const bad of ['many', '-1', '2.5', '99']) {
    assert.throws(() => stepSlots({ NESTOR_STEP_SLOTS: bad }), (err: Error & { code?: string }) => err.code === 'NESTOR_CONFIG_INVALID' && /0 \(none\) to 32/.test(String((err as { hint?: string }).hint)));
  }
});

test('NESTOR_SECRET_KEY: read when set, refused when it is not a key', () => {
  const key = Buffer.alloc(32, 7);
  assert.equal(secretKey({}), undefined);
  assert.deepEqual(secretKey({ NESTOR_SECRET_KEY: key.toString('base64') }), key);
  assert.throws(() => secretKey({ NESTOR_SECRET_KEY: 'swordfish' }), /NESTOR_SECRET_KEY is not a 32-byte key/);
});
