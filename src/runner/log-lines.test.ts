import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LineWriter } from './log-lines.ts';

async function feed(chunks: string[], prefix?: string) {
  const lines: string[] = [];
  const statuses: number[] = [];
  const w = new LineWriter((l) => lines.push(l), undefined, prefix ? { prefix, onEnd: (s) => statuses.push(s) } : undefined);
  for (const c of chunks) w.write(c);
  await new Promise<void>((resolve) => w.end(resolve));
  return { lines, statuses };
}

test('lines are split across chunks, with carriage returns dropped and a last partial line kept', async () => {
  assert.deepEqual((await feed(['a\r\nb', 'c\n', 'tail'])).lines, ['a', 'bc', 'tail']);
});

test('a gate marker is taken out with the newline the gate put before it', async () => {
  const r = await feed(['hi\n', '\nTOK:', '7\n'], 'TOK:');
  assert.deepEqual(r.lines, ['hi']);
  assert.deepEqual(r.statuses, [7]);
});

test('output without a final newline keeps its last line whole before the marker', async () => {
  const r = await feed(['no newline', '\nTOK:0\n'], 'TOK:');
  assert.deepEqual(r.lines, ['no newline']);
  assert.deepEqual(r.statuses, [0]);
});

test('empty lines the step printed itself are kept', async () => {
  const r = await feed(['a\n\n\n', '\nTOK:0\n', ''], 'TOK:');
  assert.deepEqual(r.lines, ['a', '', '']);
});

test('an empty line is kept when no marker follows it', async () => {
  const r = await feed(['a\n\nb\n\n'], 'TOK:');
  assert.deepEqual(r.lines, ['a', '', 'b', '']);
});
