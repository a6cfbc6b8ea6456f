import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LineWriter, MAX_LINE_BYTES, cutNote, utf8Boundary } from './line-writer.ts';

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

test('a line over 64 KiB is cut once: its head is kept, then one line counts the rest', async () => {
  const huge = 'a'.repeat(MAX_LINE_BYTES + 1000);
  const r = await feed([huge.slice(0, 10_000), huge.slice(10_000), '\nnext\n']);
  assert.deepEqual(r.lines, ['a'.repeat(MAX_LINE_BYTES), cutNote(1000), 'next']);
});

test('100 MB on one line, in 64 KiB writes, costs two lines and is counted exactly', async () => {
  const lines: string[] = [];
  const w = new LineWriter((l) => lines.push(l));
  const chunk = Buffer.alloc(64 * 1024, 'b');
  const total = 100_000_000;
  for (let sent = 0; sent < total; sent += chunk.length) {
    const piece = chunk.subarray(0, Math.min(chunk.length, total - sent));
    if (!w.write(piece)) await new Promise((r) => w.once('drain', r));
  }
  await new Promise<void>((resolve) => w.end(resolve));
  assert.equal(lines.length, 2);
  assert.equal(lines[0]!.length, MAX_LINE_BYTES);
  assert.equal(lines[1], cutNote(total - MAX_LINE_BYTES));
  assert.match(lines[1]!, /line cut: 99934464 more bytes \(99\.9 MB\)/);
});

test('a line of exactly 64 KiB is kept whole; a cut never splits a UTF-8 character', async () => {
  assert.deepEqual((await feed(['x'.repeat(MAX_LINE_BYTES), '\n'])).lines, ['x'.repeat(MAX_LINE_BYTES)]);
  const euro = '€'.repeat(30_000); // 3 bytes each: 90,000 bytes
  const r = await feed([euro, '\n']);
  assert.equal(r.lines[0], '€'.repeat(Math.floor(MAX_LINE_BYTES / 3)));
  assert.equal(r.lines[1], cutNote(90_000 - Math.floor(MAX_LINE_BYTES / 3) * 3));
});

test('a character split across two writes is decoded whole', async () => {
  const bytes = Buffer.from('é\n');
  const lines: string[] = [];
  const w = new LineWriter((l) => lines.push(l));
  w.write(bytes.subarray(0, 1));
  w.write(bytes.subarray(1));
  await new Promise<void>((resolve) => w.end(resolve));
  assert.deepEqual(lines, ['é']);
});

test('a cut last line without a newline is still counted, and a gate marker after it still seen', async () => {
  const r = await feed(['z'.repeat(MAX_LINE_BYTES + 5), '\nTOK:0\n'], 'TOK:');
  assert.deepEqual(r.lines, ['z'.repeat(MAX_LINE_BYTES), cutNote(5)]);
  assert.deepEqual(r.statuses, [0]);
  assert.deepEqual((await feed(['z'.repeat(MAX_LINE_BYTES + 7)])).lines, ['z'.repeat(MAX_LINE_BYTES), cutNote(7)]);
});

test('utf8Boundary backs off to the start of a character', () => {
  const b = Buffer.from('ab€');
  assert.equal(utf8Boundary(b, 3), 2);
  assert.equal(utf8Boundary(b, 4), 2);
  assert.equal(utf8Boundary(b, 5), 5);
  assert.equal(utf8Boundary(b, 2), 2);
});
