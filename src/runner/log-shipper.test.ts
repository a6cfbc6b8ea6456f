import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LogShipper, MAX_BATCH_BYTES, type LogShipperOptions, type ShippedLine } from './log-shipper.ts';
import { ServerProblem } from './server-client.ts';

const line = (text: string, source = 'step'): ShippedLine => ({ source, stream: 'stdout', time: 1, text });
const problem = (status: number) => new ServerProblem(status, { code: `NESTOR_TEST_${status}`, detail: `refused with ${status}` }, 'POST /logs');

/** A server that keeps what it is sent, answering with `answer` (which may throw) per batch. */
function server(answer: (batch: ShippedLine[], bytes: number) => { capReached: boolean } = () => ({ capReached: false })) {
  const kept: ShippedLine[] = [];
  const batches: ShippedLine[][] = [];
  const sizes: number[] = [];
  return {
    kept,
    batches,
    sizes,
    send: async (body: Buffer) => {
      const parsed = JSON.parse(body.toString('utf8')) as { lease: string; lines: ShippedLine[] };
      assert.equal(parsed.lease, LEASE);
      const a = answer(parsed.lines, body.length);
      batches.push(parsed.lines);
      sizes.push(body.length);
      kept.push(...parsed.lines);
      return a;
    },
  };
}

const LEASE = '0123456789abcdef0123456789abcdef';
const ship = (opts: Omit<LogShipperOptions, 'lease' | 'onLeaseLost'> & { onLeaseLost?: () => void }) => new LogShipper({ lease: LEASE, onLeaseLost: () => undefined, ...opts });

test('batches are bounded in bytes well below the 1 MiB body limit, and keep every line in order', async () => {
  const s = server();
  const shipper = ship({ send: s.send, onLeaseLost: () => assert.fail('no lease lost') });
  const texts = Array.from({ length: 200 }, (_, i) => `${i}:`.padEnd(64 * 1024, 'x'));
  for (const t of texts) shipper.push(line(t));
  await shipper.drain();
  assert.deepEqual(s.kept.map((l) => l.text), texts);
  assert.ok(s.batches.length >= 200 * 64 / 256);
  for (const [i, b] of s.batches.entries()) assert.ok(b.length === 1 || s.sizes[i]! <= MAX_BATCH_BYTES, `a batch of ${s.sizes[i]} bytes`);
  assert.ok(Math.max(...s.sizes) < 1024 * 1024 / 2);
});

test('many small lines go in batches of at most 2,000 lines', async () => {
  const s = server();
  const shipper = ship({ send: s.send });
  for (let i = 0; i < 10_000; i++) shipper.push(line(`line ${i}`));
  await shipper.drain();
  assert.equal(s.kept.length, 10_000);
  assert.ok(s.batches.every((b) => b.length <= 2000));
});

test('a 413 splits the batch smaller instead of being taken for "server away"; nothing is lost', async () => {
  const s = server((_batch, bytes) => {
    if (bytes > 100_000) throw problem(413);
    return { capReached: false };
  });
  const shipper = ship({ send: s.send });
  for (let i = 0; i < 50; i++) shipper.push(line(`${i}`.padEnd(30_000, 'y')));
  await shipper.drain();
  assert.equal(s.kept.length, 50);
  assert.equal(shipper.lost.lines, 0);
  assert.ok(s.sizes.every((n) => n <= 100_000));
  assert.deepEqual(s.kept.map((l) => l.text), Array.from({ length: 50 }, (_, i) => `${i}`.padEnd(30_000, 'y')), 'in order');
});

test('network errors and 5xx keep the lines for the next try', async () => {
  let failing = 2;
  const s = server(() => {
    if (failing-- > 0) throw failing ? new TypeError('fetch failed') : problem(503);
    return { capReached: false };
  });
  const shipper = ship({ send: s.send });
  shipper.push(line('a'));
  shipper.push(line('b'));
  await assert.rejects(shipper.drain(), /fetch failed/);
  await assert.rejects(shipper.drain(), /refused with 503/);
  await shipper.drain();
  assert.deepEqual(s.kept.map((l) => l.text), ['a', 'b']);
  assert.equal(shipper.lost.lines, 0);
});

test('any other 4xx loses that batch, counted and reported, and the next lines still go', async () => {
  const s = server((batch) => {
    if (batch.some((l) => l.text === 'bad')) throw problem(400);
    return { capReached: false };
  });
  const shipper = ship({ send: s.send });
  shipper.push(line('bad'));
  await shipper.drain();
  shipper.push(line('good'));
  await shipper.drain();
  assert.deepEqual(s.kept.map((l) => l.text), ['good']);
  assert.deepEqual([shipper.lost.lines, shipper.lost.bytes], [1, 3]);
  assert.match(shipper.lostNote() ?? '', /^1 log lines \(3 B\) could not be stored: POST \/logs: refused with 400/);
});

test('a 409 stops the shipper and tells the job its lease is lost', async () => {
  let lostCalls = 0;
  const shipper = ship({ send: async () => { throw problem(409); }, onLeaseLost: () => lostCalls++ });
  shipper.push(line('a'));
  await shipper.drain();
  shipper.push(line('b'));
  assert.equal(shipper.buffered, 0);
  assert.equal(lostCalls, 1);
});

test('once the server says the cap is reached, lines are counted, not sent', async () => {
  const s = server(() => ({ capReached: true }));
  const shipper = ship({ send: s.send, maxBatchLines: 2 });
  for (const t of ['a', 'b', 'cc', 'ddd']) shipper.push(line(t));
  await shipper.drain();
  shipper.push(line('eeee'));
  await shipper.drain();
  assert.deepEqual(s.kept.map((l) => l.text), ['a', 'b']);
  assert.deepEqual(shipper.notKept, { lines: 3, bytes: 9 });
});

test('a full buffer makes the source wait until batches have gone, so memory stays bounded', async () => {
  let release!: () => void;
  let gate = new Promise<void>((r) => (release = r));
  const s = server();
  const shipper = ship({
    send: async (b) => {
      await gate;
      return s.send(b);
    },
    maxBufferBytes: 100_000,
  });
  for (let i = 0; i < 10; i++) shipper.push(line('z'.repeat(20_000)));
  const wait = shipper.full();
  assert.ok(wait, 'over the bound the source is told to wait');
  let waited = false;
  void wait.then(() => (waited = true));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(waited, false);
  release();
  gate = Promise.resolve();
  await wait;
  assert.ok(shipper.buffered < 100_000);
  await shipper.drain();
  assert.equal(s.kept.length, 10);
  assert.equal(shipper.full(), undefined);
});

test('output that cannot wait is lost past the hard bound, and counted', async () => {
  const shipper = ship({ send: () => new Promise(() => undefined), hardBufferBytes: 50_000 });
  for (let i = 0; i < 10; i++) shipper.push(line('q'.repeat(10_000)));
  assert.ok(shipper.buffered < 70_000);
  assert.ok(shipper.lost.lines >= 4);
  assert.match(shipper.lostNote() ?? '', /log buffer was full/);
});

test('lines whose JSON is much longer than their text still fit a batch, and escaping survives', async () => {
  const s = server();
  const shipper = ship({ send: s.send });
  const nasty = '\u0001"\\'.repeat(20_000); // 60,000 characters, about 200 KB of JSON
  shipper.push(line(nasty));
  shipper.push(line('é€😀'));
  await shipper.drain();
  assert.deepEqual(s.kept.map((l) => l.text), [nasty, 'é€😀']);
});
