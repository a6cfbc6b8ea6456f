import assert from 'node:assert/strict';
import { test } from 'node:test';
import { responseFromStdout } from './envelope.ts';
import { headerVariable, requestEnvironment } from './request-env.ts';

test('plain stdout is a 200 text body; JSON stdout is served as JSON', () => {
  const text = responseFromStdout(Buffer.from('hello\n'));
  assert.equal(text.status, 200);
  assert.equal(text.headers['content-type'], 'text/plain; charset=utf-8');
  assert.equal(text.body.toString(), 'hello\n');
  const json = responseFromStdout(Buffer.from('{"status": "ok"}'));
  assert.equal(json.status, 200);
  assert.equal(json.headers['content-type'], 'application/json');
});

test('a Lambda-style envelope sets status, headers and a base64 body', () => {
  const r = responseFromStdout(Buffer.from(JSON.stringify({ statusCode: 201, headers: { 'X-Id': '7', 'Bad\nName': 'x', 'Content-Length': '999' }, body: Buffer.from('bin').toString('base64'), isBase64Encoded: true })));
  assert.equal(r.status, 201);
  assert.equal(r.headers['x-id'], '7');
  assert.equal(Object.keys(r.headers).some((k) => k.includes('\n')), false);
  assert.equal(r.headers['content-length'], undefined, 'the gateway sets the length of what it sends');
  assert.equal(r.body.toString(), 'bin');
});

test('JSON with other keys or an impossible status is data, not an envelope', () => {
  assert.equal(responseFromStdout(Buffer.from('{"statusCode": 201, "user": "x"}')).status, 200);
  assert.equal(responseFromStdout(Buffer.from('{"statusCode": 99}')).status, 200);
});

test('headers become Http_ variables on one line each; hop-by-hop headers are dropped', () => {
  assert.equal(headerVariable('x-request-id'), 'Http_X_Request_Id');
  const env = requestEnvironment({ method: 'post', path: '/a', query: 'q=1', headers: { 'content-type': 'text/plain', connection: 'keep-alive', 'x-evil': 'a\nHttp_Method=GET' }, body: Buffer.alloc(0) });
  assert.ok(env.includes('Http_Method=POST'));
  assert.ok(env.includes('Http_Query=q=1'));
  assert.ok(env.includes('Http_Content_Type=text/plain'));
  assert.ok(env.includes('Http_X_Evil=a Http_Method=GET'));
  assert.equal(env.some((e) => e.startsWith('Http_Connection')), false);
  assert.equal(env.every((e) => !e.includes('\n')), true);
});
