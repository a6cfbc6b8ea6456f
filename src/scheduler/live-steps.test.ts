import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { RunningContainer, ShellSession } from '../backend/backend.ts';
import { LiveSteps } from './live-steps.ts';

/** A container whose shells end when the test says: the bookkeeping alone is under test here. */
function container(name: string): RunningContainer & { ends: (() => void)[] } {
  const ends: (() => void)[] = [];
  return {
    name,
    ends,
    wait: async () => ({ exitCode: 1, oomKilled: false, stopped: false }),
    remove: async () => undefined,
    shell: async () => {
      const exit = Promise.withResolvers<number | null>();
      ends.push(() => exit.resolve(0));
      return { write() {}, endInput() {}, onOutput() {}, resize: async () => undefined, exited: exit.promise, close() {} } satisfies ShellSession;
    },
  };
}

const settled = async (p: Promise<unknown>) => Promise.race([p.then(() => true), new Promise((r) => setTimeout(() => r(false), 20))]);

test('with no step named, a shell goes into the newest; a step is found by its name or job/step, and an unknown one is named with those running', async () => {
  const live = new LiveSteps();
  live.add('build/compile', 'compile', container('a'));
  await new Promise((r) => setTimeout(r, 2));
  const unlist = live.add('build/test', 'test', container('b'));
  assert.equal((await live.open(undefined, { command: [], tty: false })).step, 'build/test');
  assert.equal((await live.open('compile', { command: [], tty: false })).step, 'build/compile');
  assert.equal((await live.open('build/test', { command: [], tty: false })).step, 'build/test');
  await assert.rejects(live.open('lint', { command: [], tty: false }), (err: Error & { code?: string }) => err.code === 'NESTOR_SHELL_NO_STEP' && /running: build\/compile, build\/test/.test(err.message));
  unlist();
  assert.deepEqual(live.names(), ['build/compile']);
  await assert.rejects(new LiveSteps().open(undefined, { command: [], tty: false }), /No step of this job is running now/);
});

test('a failed step is held only when asked, until its last shell exits, its time is up with none in it, or the job is cancelled', async () => {
  const said: string[] = [];
  const none = new LiveSteps();
  none.add('j/s', 's', container('s'));
  assert.equal(await settled(none.hold('j/s', new AbortController().signal, (t) => said.push(t))), true, 'no hold asked: at once');
  assert.equal(said.length, 0);

  const live = new LiveSteps({ holdMs: 60_000, shellCommand: (step) => `nestor jobs shell J ${step}` });
  const c = container('s');
  live.add('j/s', 's', c);
  const held = live.hold('j/s', new AbortController().signal, (t) => said.push(t));
  assert.match(said[0]!, /step s failed; it is kept 1 min for a shell: nestor jobs shell J s/);
  await live.open('s', { command: [], tty: false });
  await live.open('s', { command: [], tty: false });
  c.ends[0]!();
  assert.equal(await settled(held), false, 'one shell still in it');
  c.ends[1]!();
  assert.equal(await settled(held), true, 'the last shell ended');

  const cancel = new AbortController();
  live.add('j/t', 't', container('t'));
  const cancelled = live.hold('j/t', cancel.signal, () => undefined);
  cancel.abort();
  assert.equal(await settled(cancelled), true);

  const short = new LiveSteps({ holdMs: 30 });
  short.add('j/u', 'u', container('u'));
  const timed = short.hold('j/u', new AbortController().signal, () => undefined);
  await new Promise((r) => setTimeout(r, 40));
  assert.equal(await settled(timed), true, 'its time is up with no shell in it');
});
