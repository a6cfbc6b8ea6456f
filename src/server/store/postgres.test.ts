import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Store } from './store.ts';
import { freePort } from '../../../test/server/processes.ts';

test('a database URL with text before it is refused as not a URL, not looked up in DNS', async () => {
  await assert.rejects(Store.open({ databaseUrl: 'Removed stale pid file.\npostgres://u:secret@127.0.0.1/db' }), (err: Error & { code?: string; hint?: string }) => {
    assert.equal(err.code, 'NESTOR_DATABASE_UNAVAILABLE');
    assert.match(err.message, /not a URL/);
    assert.match(err.hint ?? '', /NESTOR_DATABASE_URL/);
    return true;
  });
});

test('a database nobody answers is named, password hidden, with the reason', async () => {
  const port = await freePort(); // free a moment ago: nothing listens there
  await assert.rejects(Store.open({ databaseUrl: `postgres://nestor:secret@127.0.0.1:${port}/x` }), (err: Error & { code?: string }) => {
    assert.equal(err.code, 'NESTOR_DATABASE_UNAVAILABLE');
    assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${port}`));
    assert.match(err.message, /ECONNREFUSED/);
    assert.doesNotMatch(err.message, /secret/);
    return true;
  });
});

test('a URL of another scheme is refused with the scheme named', async () => {
  await assert.rejects(Store.open({ databaseUrl: 'mysql://root@127.0.0.1/x' }), /scheme is mysql/);
});
