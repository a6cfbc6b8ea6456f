import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { consumeProgress, EngineStreamError } from './json-stream.ts';

test('a build stream that ends with errorDetail is a failure, with the output so far', async () => {
  const lines = [
    '{"stream":"Step 1/2 : FROM busybox\\n"}\n{"stream":"Step 2/2 : RUN false\\n"}\n',
    '{"errorDetail":{"code":1,"message":"The command \'/bin/sh -c false\' returned a non-zero code: 1"},"error":"x"}\n',
  ];
  await assert.rejects(consumeProgress('build of demo', Readable.from(lines)), (err: unknown) => {
    assert.ok(err instanceof EngineStreamError);
    assert.match(err.message, /returned a non-zero code: 1/);
    assert.match(err.output, /Step 2\/2/);
    return true;
  });
});

test('messages split across chunks are joined before parsing', async () => {
  const seen: string[] = [];
  const { output } = await consumeProgress('pull', Readable.from(['{"status":"Pull', 'ing"}\n{"stream":"ok\\n"}']), (m) => {
    if (m.status) seen.push(m.status);
  });
  assert.deepEqual(seen, ['Pulling']);
  assert.equal(output, 'ok\n');
});
