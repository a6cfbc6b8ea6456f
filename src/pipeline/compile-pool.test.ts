import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NestorError } from '../errors.ts';
import { CompilePool, CompilerBusyError } from './compile-pool.ts';
import { PipelineError, UnsupportedFeatureError } from './errors.ts';
import { PipelineLimitError } from './limits.ts';

const big = (n: number) => ({ file: '.nestor.yml', text: `steps:\n${Array.from({ length: n }, (_, i) => `  s${i}: {image: busybox, commands: ["echo ${i} ${'x'.repeat(100)}"]}\n`).join('')}` });

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  assert.fail('accepted');
}

test('compiles on a thread, and its errors come back as the classes they were thrown as', async () => {
  const pool = new CompilePool({ size: 1 });
  try {
    await pool.check({ file: '.nestor.yml', text: 'steps: [{name: a, run: x}]' });
    const invalid = await rejection(pool.check({ file: '.nestor.yml', text: 'steps:\n  a: {imgae: x, run: y}\n' }));
    assert.ok(invalid instanceof PipelineError);
    assert.equal(invalid.code, 'NESTOR_PIPELINE_INVALID');
    assert.equal(invalid.problems[0]!.position.line, 2);
    await pool.check(big(20)); // under the default limits
    const small = new CompilePool({ size: 1, limits: { steps: 5 } });
    const over = await rejection(small.check(big(20)));
    await small.close();
    assert.ok(over instanceof PipelineLimitError);
    assert.deepEqual(over.limit, { name: 'steps', max: 5, actual: 20 });
    assert.match(over.message, /the file has 20 steps, services or jobs: over the pipeline limit steps = 5/);
    const unsupported = await rejection(pool.check({ file: '.woodpecker.yml', text: 'steps:\n  a: {image: x, commands: [x], devices: [/dev/fuse]}\n' }));
    assert.ok(unsupported instanceof UnsupportedFeatureError);
    const empty = await rejection(pool.check({ file: '.nestor.yml', text: '' }));
    assert.ok(empty instanceof NestorError && !(empty instanceof PipelineError));
    assert.equal(empty.code, 'NESTOR_PIPELINE_NOT_FOUND');
  } finally {
    await pool.close();
  }
});

test('the event loop stays free while a large pipeline compiles', async () => {
  const pool = new CompilePool({ size: 1 });
  await pool.check(big(1)); // the thread is started and warm
  let worst = 0;
  let last = performance.now();
  const tick = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, 2);
  const t = performance.now();
  await pool.check(big(4000));
  const compileMs = performance.now() - t;
  clearInterval(tick);
  await pool.close();
  // Generous for a loaded machine; compiling on this thread would stall it for the whole compile.
  assert.ok(worst < Math.min(100, compileMs / 2), `the loop stalled for ${worst.toFixed(1)} ms during a ${compileMs.toFixed(0)} ms compile`);
});

test('a compile past compileMs is refused naming the limit; the next one gets a new thread', async () => {
  const pool = new CompilePool({ size: 1, limits: { compileMs: 300 } });
  try {
    const slow = await rejection(pool.check(big(4900)));
    assert.ok(slow instanceof PipelineLimitError, String(slow));
    assert.equal(slow.limit.name, 'compileMs');
    // The thread's start is not counted against the next compile's time.
    await pool.check(big(1));
  } finally {
    await pool.close();
  }
});

test('a full queue is refused as busy, and closing refuses what waits', async () => {
  const pool = new CompilePool({ size: 1, queue: 1 });
  const running = rejection(pool.check(big(2000)));
  const waiting = rejection(pool.check(big(1)));
  const busy = await rejection(pool.check(big(1)));
  assert.ok(busy instanceof CompilerBusyError);
  await pool.close();
  for (const p of [running, waiting]) assert.equal(((await p) as NestorError).code, 'NESTOR_SERVER_CLOSING');
  assert.equal(((await rejection(pool.check(big(1)))) as NestorError).code, 'NESTOR_SERVER_CLOSING');
});
