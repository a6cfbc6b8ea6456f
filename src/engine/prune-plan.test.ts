import { test } from 'node:test';
import assert from 'node:assert/strict';
import { imagesToPrune, parseDuration } from './prune-plan.ts';

const H = 3600e3;
const now = 1_000 * H;
const img = (id: string, tag: string, ageH: number) => ({ id, repoTags: [tag], createdMs: now - ageH * H });

test('durations take s, m, h, d and w', () => {
  assert.equal(parseDuration('90m'), 90 * 60e3);
  assert.equal(parseDuration('24h'), 24 * H);
  assert.equal(parseDuration('7d'), 7 * 24 * H);
  assert.throws(() => parseDuration('soon'), /e\.g\. 90m, 24h or 7d/);
});

test('old images go, but the newest N of each repository stay whatever their age', () => {
  const images = [img('a1', 'fn/api:1', 100), img('a2', 'fn/api:2', 90), img('a3', 'fn/api:3', 80), img('b1', 'fn/web:1', 100)];
  const gone = imagesToPrune(images, { nowMs: now, olderThanMs: 24 * H, keep: 2 }).map((i) => i.id);
  assert.deepEqual(gone, ['a1']);
});

test('recent images stay even beyond the keep count', () => {
  const images = [img('a1', 'fn/api:1', 3), img('a2', 'fn/api:2', 2), img('a3', 'fn/api:3', 1)];
  assert.deepEqual(imagesToPrune(images, { nowMs: now, olderThanMs: 24 * H, keep: 1 }), []);
});

test('untagged old images go', () => {
  const images = [{ id: 'x', repoTags: ['<none>:<none>'], createdMs: now - 48 * H }];
  assert.deepEqual(imagesToPrune(images, { nowMs: now, olderThanMs: 24 * H, keep: 3 }).map((i) => i.id), ['x']);
});
