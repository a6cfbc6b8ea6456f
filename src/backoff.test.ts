import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoffDelay } from './backoff.ts';

test('doubles from the base up to the most, then stays there', () => {
  const b = { base: 500, max: 30_000 };
  assert.deepEqual([0, 1, 2, 5, 6, 7, 50, 2000].map((n) => backoffDelay(n, b)), [500, 1000, 2000, 16_000, 30_000, 30_000, 30_000, 30_000]);
  assert.equal(backoffDelay(-3, b), 500, 'a negative attempt is the first');
});

test('maxDoublings stops the doubling below the most', () => {
  const b = { base: 60, max: 3600, maxDoublings: 2 };
  assert.deepEqual([0, 1, 2, 3, 10].map((n) => backoffDelay(n, b)), [60, 120, 240, 240, 240]);
});

test('jitter scales the wait within ± the fraction, after the cap', () => {
  const b = { base: 250, max: 10_000, maxDoublings: 6, jitter: 0.25 };
  assert.equal(backoffDelay(0, b, () => 0), 187.5);
  assert.equal(backoffDelay(0, b, () => 0.5), 250);
  assert.equal(backoffDelay(6, b, () => 0), 7500);
  assert.ok(backoffDelay(6, b, () => 0.999_999) < 12_500);
  for (let i = 0; i < 1000; i++) {
    const d = backoffDelay(3, b);
    assert.ok(d >= 1500 && d < 2500, String(d));
  }
});

test('each caller\'s numbers give the waits it had before the helper', () => {
  // The runner (agent.ts): 250 ms to 10 s, ±25 %.
  const runner = { base: 250, max: 10_000, maxDoublings: 6, jitter: 0.25 };
  for (const n of [0, 1, 3, 6, 9]) {
    for (const r of [0, 0.3, 0.99]) assert.equal(backoffDelay(n, runner, () => r), Math.min(10_000, 250 * 2 ** Math.min(n, 6)) * (0.75 + r / 2));
  }
  // GitOps polls (controller.ts): the interval doubled per failure, at most maxBackoff, never under the interval.
  for (const [interval, maxBackoff] of [[60, 600], [900, 600], [5, 86_400]] as const) {
    for (const failures of [1, 2, 4, 10, 11, 30]) {
      assert.equal(backoffDelay(failures, { base: interval, max: Math.max(interval, maxBackoff), maxDoublings: 10 }), Math.min(Math.max(interval, maxBackoff), interval * 2 ** Math.min(failures, 10)));
    }
  }
  // Engine starts after failures (pool.ts): 500 ms doubled, at most 30 s.
  for (const failures of [1, 2, 5, 6, 40]) assert.equal(backoffDelay(failures, { base: 500, max: 30_000 }), Math.min(30_000, 500 * 2 ** failures));
});
