import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { debianMirror, defaultMaxJobs, defaultStepImage, engineImages, secretKey, stepSlots } from './config.ts';

test('NESTOR_STEP_SLOTS: unset gives the default, a whole number is taken, anything else is refused with what to set', () => {
  assert.equal(stepSlots({}), 8);
  assert.equal(stepSlots({ NESTOR_STEP_SLOTS: '0' }), 0);
  assert.equal(stepSlots({ NESTOR_STEP_SLOTS: ' 3 ' }), 3);
  for (const bad of ['many', '-1', '2.5', '99']) {
    assert.throws(() => stepSlots({ NESTOR_STEP_SLOTS: bad }), (err: Error & { code?: string }) => err.code === 'NESTOR_CONFIG_INVALID' && /0 \(none\) to 32/.test(String((err as { hint?: string }).hint)));
  }
});

test('a runner takes three jobs per core by default, at most one per 2 GiB, from 2 to 8', () => {
  const GiB = 2 ** 30;
  assert.equal(defaultMaxJobs(2, 24 * GiB), 6);
  assert.equal(defaultMaxJobs(1, 24 * GiB), 3);
  assert.equal(defaultMaxJobs(16, 64 * GiB), 8);
  assert.equal(defaultMaxJobs(8, 6 * GiB), 3);
  assert.equal(defaultMaxJobs(1, 2 * GiB), 2);
});

test('NESTOR_SECRET_KEY: read when set, refused when it is not a key', () => {
  const key = Buffer.alloc(32, 7);
  assert.equal(secretKey({}), undefined);
  assert.deepEqual(secretKey({ NESTOR_SECRET_KEY: key.toString('base64') }), key);
  assert.throws(() => secretKey({ NESTOR_SECRET_KEY: 'swordfish' }), /NESTOR_SECRET_KEY is not a 32-byte key/);
});

test('the environment\'s other settings: step image, engine images, Debian mirror', () => {
  assert.equal(defaultStepImage({}), 'busybox:latest');
  assert.equal(defaultStepImage({ NESTOR_DEFAULT_IMAGE: 'alpine:3.19' }), 'alpine:3.19');
  assert.deepEqual(engineImages({}), {});
  assert.deepEqual(engineImages({ NESTOR_ROOTLESS_IMAGE: 'site/rootless:1', NESTOR_DIND_IMAGE: 'site/dind:1' }), { rootless: 'site/rootless:1', dind: 'site/dind:1' });
  assert.equal(debianMirror({}), undefined);
  assert.equal(debianMirror({ NESTOR_DEBIAN_MIRROR: 'http://mirror.local/debian' }), 'http://mirror.local/debian');
});

test('only the edge reads process.env: src/cli; everything below takes its settings as parameters', () => {
  const src = new URL('.', import.meta.url).pathname;
  const files = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [join(dir, e.name)] : []));
  const readers = files(src)
    .filter((f) => !relative(src, f).startsWith('cli/'))
    // Comments may name it; code may not.
    .filter((f) => readFileSync(f, 'utf8').split('\n').some((line) => /process\.env/.test(line.replace(/\/\*.*?\*\/|\/\/.*$|^\s*\/?\*.*$/g, ''))))
    .map((f) => relative(src, f));
  assert.deepEqual(readers, []);
});
