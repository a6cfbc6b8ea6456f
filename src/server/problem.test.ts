import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import pino from 'pino';
import { z } from 'zod';
import { NestorError } from '../errors.ts';
import { PipelineLimitError } from '../pipeline/limits.ts';
import { FencedError } from './store/store.ts';
import { fromFramework, parseBody, problemHandler, sendProblem } from './problem.ts';

const TEXTS = {
  bodyTooLarge: { message: 'The request body is over the limit', hint: 'Send less.' },
  unsupportedMediaTypeHint: 'Send JSON.',
  badRequestHint: 'Check the request.',
};

/** A listener with the server's one error handler, and routes that throw what they are told. */
async function app() {
  const logged: string[] = [];
  const app = Fastify({ loggerInstance: pino({ level: 'error' }, { write: (l: string) => void logged.push(l) }) as never, bodyLimit: 64 });
  app.setErrorHandler(problemHandler(TEXTS, 'request failed'));
  app.setNotFoundHandler((req, reply) => sendProblem(reply, new NestorError('NESTOR_NOT_FOUND', `No route ${req.method} ${req.url}`, 'See the routes.')));
  app.get('/lease', async () => {
    throw new FencedError('j1');
  });
  app.get('/limit', async () => {
    throw new PipelineLimitError('bytes', 10, { file: 'p.yml', line: 1, column: 1 }, 'the pipeline is 11 bytes', 11);
  });
  app.get('/unlisted', async () => {
    throw new NestorError('NESTOR_SECRET_KEY_FILE', 'secret path /x', 'h');
  });
  app.get('/bug', async () => {
    throw new Error('internal detail');
  });
  app.post('/body', async (req) => parseBody(z.strictObject({ name: z.string() }), req.body));
  return { app, logged };
}

test('a Nestor error is answered with the status of its code, as problem+json', async () => {
  const { app: a } = await app();
  const r = await a.inject({ method: 'GET', url: '/lease' });
  assert.equal(r.statusCode, 409);
  assert.match(r.headers['content-type'] as string, /^application\/problem\+json/);
  assert.deepEqual(r.json(), {
    type: 'https://nestor.dev/problems/nestor-lease-lost',
    title: 'Conflict',
    status: 409,
    code: 'NESTOR_LEASE_LOST',
    detail: 'the lease on job j1 is no longer held by this runner (it expired and the job moved on)',
    hint: 'Stop working on this job: another runner owns it now.',
  });
  const limit = await a.inject({ method: 'GET', url: '/limit' });
  assert.equal(limit.statusCode, 422);
  assert.deepEqual(limit.json().limit, { name: 'bytes', max: 10, actual: 11 });
  assert.equal(limit.json().problems.length, 1);
  await a.close();
});

test('an error without a status is the server\'s own: 500 NESTOR_INTERNAL, its text only in the log', async () => {
  const { app: a, logged } = await app();
  for (const url of ['/unlisted', '/bug']) {
    const r = await a.inject({ method: 'GET', url });
    assert.equal(r.statusCode, 500);
    assert.equal(r.json().code, 'NESTOR_INTERNAL');
    assert.doesNotMatch(r.body, /secret path|internal detail/);
  }
  assert.equal(logged.length, 2);
  await a.close();
});

test('what the framework refuses is answered in Nestor\'s codes: bad JSON, a body too large, an unknown route, a body to fix', async () => {
  const { app: a } = await app();
  const json = { 'content-type': 'application/json' };
  const bad = await a.inject({ method: 'POST', url: '/body', headers: json, payload: '{"name":' });
  assert.equal(bad.statusCode, 400);
  assert.equal(bad.json().code, 'NESTOR_BAD_REQUEST');
  assert.equal(bad.json().hint, 'Check the request.');
  const large = await a.inject({ method: 'POST', url: '/body', headers: json, payload: JSON.stringify({ name: 'x'.repeat(100) }) });
  assert.deepEqual([large.statusCode, large.json().code, large.json().detail], [413, 'NESTOR_BODY_TOO_LARGE', 'The request body is over the limit']);
  const media = await a.inject({ method: 'POST', url: '/body', headers: { 'content-type': 'text/x-unknown' }, payload: 'x' });
  assert.deepEqual([media.statusCode, media.json().code, media.json().hint], [415, 'NESTOR_UNSUPPORTED_MEDIA_TYPE', 'Send JSON.']);
  const missing = await a.inject({ method: 'GET', url: '/nope' });
  assert.deepEqual([missing.statusCode, missing.json().code], [404, 'NESTOR_NOT_FOUND']);
  const fields = await a.inject({ method: 'POST', url: '/body', headers: json, payload: '{"name":1}' });
  assert.equal(fields.statusCode, 400);
  assert.equal(fields.json().code, 'NESTOR_BAD_REQUEST');
  assert.deepEqual(fields.json().errors.map((e: { path: string }) => e.path), ['name']);
  await a.close();
});

test('framework client errors map by status; anything else is not the framework\'s', () => {
  assert.equal(fromFramework({ message: 'm', statusCode: 414 }, TEXTS)?.code, 'NESTOR_URL_TOO_LONG');
  assert.equal(fromFramework({ message: 'm', statusCode: 406 }, TEXTS)?.code, 'NESTOR_BAD_REQUEST');
  assert.equal(fromFramework({ message: 'm', statusCode: 503 }, TEXTS), undefined);
  assert.equal(fromFramework({ message: 'm' }, TEXTS), undefined);
});
