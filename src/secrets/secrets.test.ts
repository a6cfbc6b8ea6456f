import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { secureDataDir } from './data-dir.ts';
import { redactSecrets, redactUrls } from './redact.ts';
import { SecretBox, SecretKeyMismatchError } from './secret-box.ts';
import { KEY_FILE, loadSecretKey, parseSecretKey } from './secret-key.ts';

const KEY = Buffer.alloc(32, 7);

test('a sealed value opens only with its key and in its own place', () => {
  const box = new SecretBox(KEY);
  const sealed = box.seal('hunter2-registry', 'registry:ghcr.io');
  assert.ok(SecretBox.isSealed(sealed));
  assert.ok(!sealed.includes('hunter2'));
  assert.notEqual(box.seal('hunter2-registry', 'registry:ghcr.io'), sealed, 'a fresh IV each time');
  assert.equal(box.reveal(sealed, 'registry:ghcr.io'), 'hunter2-registry');
  assert.throws(() => box.reveal(sealed, 'registry:quay.io'), { code: 'NESTOR_SECRET_UNREADABLE' });
  assert.throws(() => new SecretBox(Buffer.alloc(32, 8)).reveal(sealed, 'registry:ghcr.io'), SecretKeyMismatchError);
  const tampered = sealed.slice(0, -4) + (sealed.endsWith('AAAA') ? 'BBBB' : 'AAAA');
  assert.throws(() => box.reveal(tampered, 'registry:ghcr.io'), { code: 'NESTOR_SECRET_UNREADABLE' });
  assert.equal(box.reveal('plain from before', 'x'), 'plain from before');
});

test('keys: hex or base64 of 32 bytes; anything else is refused', () => {
  assert.deepEqual(parseSecretKey(KEY.toString('hex'), 'k'), KEY);
  assert.deepEqual(parseSecretKey(`${KEY.toString('base64')}\n`, 'k'), KEY);
  assert.throws(() => parseSecretKey('correct horse battery staple', 'NESTOR_SECRET_KEY'), { code: 'NESTOR_SECRET_KEY_INVALID' });
  assert.throws(() => parseSecretKey(Buffer.alloc(16).toString('base64'), 'k'), { code: 'NESTOR_SECRET_KEY_INVALID' });
});

test('the key file is made once, 0600, in a 0700 data directory, and read afterwards', () => {
  const dir = join(mkdtempSync(join(tmpdir(), 'nestor-key-')), 'data');
  const first = loadSecretKey({ dataDir: dir });
  assert.equal(first.source, 'new file');
  assert.equal(statSync(join(dir, KEY_FILE)).mode & 0o777, 0o600);
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  const again = loadSecretKey({ dataDir: dir });
  assert.equal(again.source, 'file');
  assert.deepEqual(again.key, first.key);
  assert.equal(loadSecretKey({ dataDir: dir, key: KEY }).source, 'setting');
});

test('secureDataDir: the directory 0700, the store\'s files 0600, the database made 0600 before SQLite opens it', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nestor-dd-'));
  writeFileSync(join(dir, 'nestor.db-wal'), '', { mode: 0o644 });
  secureDataDir(dir, { database: 'nestor.db' });
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  assert.equal(statSync(join(dir, 'nestor.db')).mode & 0o777, 0o600);
  assert.equal(statSync(join(dir, 'nestor.db-wal')).mode & 0o777, 0o600);
  assert.equal(readFileSync(join(dir, 'nestor.db')).length, 0);
});

test('URL credentials are redacted wherever a URL is quoted', () => {
  assert.equal(redactUrls("fatal: unable to access 'https://ci:s3cr@t@git.example.com/x.git/': 403"), "fatal: unable to access 'https://***@git.example.com/x.git/': 403");
  assert.equal(redactUrls('https://ghp_TOKEN@github.com/o/r'), 'https://***@github.com/o/r');
  assert.equal(redactUrls('ssh://git@host/r and ssh://u:pw@host/r'), 'ssh://git@host/r and ssh://u:***@host/r');
  assert.equal(redactUrls('see https://example.com/a, mail me@example.com'), 'see https://example.com/a, mail me@example.com');
  assert.equal(redactSecrets('token abcdef123 and x', ['abcdef123', 'x']), 'token *** and x');
});
