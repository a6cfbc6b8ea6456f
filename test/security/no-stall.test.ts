// Issue 13, item 5: no input stalls the server. A real `nestor server` process: a catastrophic
// GitLab pattern submits at once (it took 24 s, and /health waited as long), every pipeline
// limit is a 422 naming it (an alias bomb was a 500), /health keeps answering while a pipeline
// at the size limit compiles, and a client sending its headers a byte a second is cut off.
// No Docker engine is used.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { percentile } from '../../bench/stats.ts';
import { sizeLimitPipeline, startServerProcess, submit, timeHealth } from '../../bench/no-stall-fixture.ts';
import { DEFAULT_PIPELINE_LIMITS } from '../../src/pipeline/limits.ts';
import { jobPlansOf } from '../../src/pipeline/load.ts';

const server = await startServerProcess(['--headers-timeout', '2', '--request-timeout', '3', '--max-connections', '40']);
after(() => server.stop());

const redos = (v: string) => [
  'variables:',
  `  V: "${v}"`,
  'matches:',
  '  script: [echo matches]',
  '  rules:',
  "    - if: '$V =~ /^(a+)+$/'",
  'differs:',
  '  script: [echo differs]',
  '  rules:',
  "    - if: '$V !~ /^(a+)+$/'",
].join('\n');

test('a catastrophic GitLab pattern submits at once, and evaluates rightly where the runner compiles it', async () => {
  const pipeline = redos(`${'a'.repeat(32)}!`);
  const health = timeHealth(server.url, { count: 20, gapMs: 2 });
  const r = await submit(server.url, { name: 'redos', pipeline, file: '.gitlab-ci.yml' });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  assert.ok(r.ms < 5000, `the submission took ${r.ms.toFixed(0)} ms`);
  assert.ok(Math.max(...(await health)) < 1000, '/health kept answering');
  // The runner compiles the stored text again (src/runner/agent.ts): the same, as quickly.
  const t = performance.now();
  // Each GitLab job is a plan of its own, with its one step.
  const decided = (text: string) => jobPlansOf({ text, file: '.gitlab-ci.yml' }).flatMap((p) => p.steps).map((s) => [s.name, s.notRunBecause ?? 'runs']);
  const bang = decided(pipeline);
  assert.ok(performance.now() - t < 2000);
  assert.deepEqual(bang, [['matches', 'no rule matches: not run'], ['differs', 'runs']]);
  assert.deepEqual(decided(redos('a'.repeat(32))), [['matches', 'runs'], ['differs', 'no rule matches: not run']]);
});

test('a pattern RE2 cannot run is a 422 at file:line:column with what to write instead', async () => {
  const r = await submit(server.url, { pipeline: "j:\n  script: [x]\n  rules:\n    - if: '$V =~ /(a)\\1/'\n", file: '.gitlab-ci.yml' });
  assert.equal(r.status, 422);
  assert.equal(r.body.code, 'NESTOR_PIPELINE_INVALID');
  const [problem] = r.body.problems as { position: { line: number; column: number }; message: string }[];
  assert.deepEqual([problem!.position.line, problem!.position.column], [4, 11]);
  assert.match(problem!.message, /backreference.*RE2 runs in linear time/);
});

const bomb = [
  'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
  ...'bcdefghi'.split('').map((k, i) => `${k}: &${k} [${Array(9).fill(`*${'abcdefghi'[i]}`).join(',')}]`),
  'steps: [{name: x, run: x}]',
].join('\n');
const limited: [string, string, { pipeline: string; file: string }][] = [
  ['bytes', 'a file of 1 MiB and more', { pipeline: `steps: [{name: a, run: x}]\n#${'x'.repeat(DEFAULT_PIPELINE_LIMITS.bytes)}\n`, file: '.nestor.yml' }],
  ['steps', '5,001 steps', { pipeline: `steps:\n${Array.from({ length: 5001 }, (_, i) => `  s${i}: {run: x}\n`).join('')}`, file: '.nestor.yml' }],
  ['steps', 'a matrix of 2 billion jobs', { pipeline: `matrix:\n${Array.from({ length: 12 }, (_, i) => `  A${i}: [1, 2, 3, 4, 5, 6]\n`).join('')}steps: [{name: a, run: x}]\n`, file: '.nestor.yml' }],
  ['depth', '100,000 nested lists', { pipeline: `steps: [{name: a, run: x}]\nx: ${'['.repeat(100_000)}\n`, file: '.nestor.yml' }],
  ['aliases', 'a YAML alias bomb', { pipeline: bomb, file: '.nestor.yml' }],
  ['extendsDepth', 'extends 14 levels deep', { pipeline: `${Array.from({ length: 13 }, (_, i) => `.t${i}: {extends: .t${i + 1}}\n`).join('')}.t13: {script: [x]}\njob: {extends: .t0}\n`, file: '.gitlab-ci.yml' }],
  ['regexLength', 'a pattern of 5,000 characters', { pipeline: `j:\n  script: [x]\n  rules:\n    - if: '$V =~ /${'a'.repeat(5000)}/'\n`, file: '.gitlab-ci.yml' }],
];
for (const [limit, what, body] of limited) {
  test(`${what}: a 422 naming the limit ${limit}`, async () => {
    const r = await submit(server.url, body);
    assert.equal(r.status, 422, JSON.stringify(r.body).slice(0, 500));
    assert.equal(r.body.code, 'NESTOR_PIPELINE_LIMIT');
    assert.equal((r.body.limit as { name: string }).name, limit);
    assert.match(String(r.body.detail), new RegExp(`over the pipeline limit ${limit} = `));
    assert.match(String(r.body.hint), /docs\/pipeline\.md/);
    assert.ok(r.ms < 8000, `answered in ${r.ms.toFixed(0)} ms`);
  });
}

test('/health keeps answering while a pipeline at the size limit compiles', async () => {
  const pipeline = sizeLimitPipeline();
  assert.equal(Buffer.byteLength(pipeline), DEFAULT_PIPELINE_LIMITS.bytes);
  const rest = await timeHealth(server.url, { count: 100 });
  const submitted = submit(server.url, { name: 'size-limit', pipeline, file: '.nestor.yml' });
  const busy = await timeHealth(server.url, { until: submitted });
  const r = await submitted;
  assert.equal(r.status, 201, JSON.stringify(r.body).slice(0, 500));
  // Generous for a loaded machine (bench/no-stall.ts measures against 20 ms); compiling on the
  // event loop held every request for the whole compile, a second and more.
  assert.ok(busy.length >= 20, `${busy.length} answers during a ${r.ms.toFixed(0)} ms compile`);
  assert.ok(percentile(busy, 99) < 200, `/health p99 ${percentile(busy, 99)} ms while compiling (at rest ${percentile(rest, 99)} ms; compile ${r.ms.toFixed(0)} ms)`);
});

/** Sends `text` a byte at a time every `everyMs`; answers how long until the server closed the connection, and what it said. */
function trickle(text: string, everyMs: number): Promise<{ closedAfterMs: number; answer: string }> {
  const port = Number(new URL(server.url).port);
  return new Promise((resolve) => {
    const start = performance.now();
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    let i = 0;
    const timer = setInterval(() => {
      if (i < text.length && socket.writable) socket.write(text[i++]!);
    }, everyMs);
    socket.on('data', (b) => (answer += b.toString()));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ closedAfterMs: performance.now() - start, answer });
    });
  });
}

test('a client sending its headers one byte a second is cut off at the headers timeout', async () => {
  const slow = trickle(`GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ${'a'.repeat(100)}\r\n\r\n`, 1000);
  // Others are served meanwhile.
  assert.equal((await fetch(`${server.url}/health`)).status, 200);
  const { closedAfterMs, answer } = await slow;
  assert.ok(closedAfterMs > 1500 && closedAfterMs < 6000, `closed after ${closedAfterMs.toFixed(0)} ms (headers timeout 2 s)`);
  assert.match(answer, /^HTTP\/1\.1 408/);
});

test('a client sending its body slowly is cut off at the request timeout', async () => {
  const head = 'POST /api/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n';
  const { closedAfterMs } = await trickle(`${head}{${' '.repeat(990)}}`, 10);
  assert.ok(closedAfterMs < 7000, `closed after ${closedAfterMs.toFixed(0)} ms (request timeout 3 s)`);
});

test('connections past the cap are closed at once; those under it are served', async () => {
  const port = Number(new URL(server.url).port);
  // Each asks /health and stays open; past 40 at once (this client's kept-alive ones count too) the server closes them unanswered.
  const sockets: ReturnType<typeof connect>[] = [];
  const answers = await Promise.all(Array.from({ length: 60 }, () => new Promise<boolean>((resolve) => {
    const s = connect(port, '127.0.0.1', () => s.write('GET /health HTTP/1.1\r\nHost: x\r\n\r\n'));
    sockets.push(s);
    s.on('data', (b) => resolve(b.toString().startsWith('HTTP/1.1 200')));
    s.on('error', () => resolve(false));
    s.on('close', () => resolve(false));
  })));
  for (const s of sockets) s.destroy();
  const served = answers.filter(Boolean).length;
  assert.ok(served >= 1 && served <= 40, `${served} of 60 connections served, with a cap of 40`);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal((await fetch(`${server.url}/health`)).status, 200);
});
