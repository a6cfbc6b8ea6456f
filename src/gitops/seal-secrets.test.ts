import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SecretBox } from '../secrets/secret-box.ts';
import { GitopsStore } from './store.ts';
import { MIGRATIONS, migrate } from '../store/migrations.ts';
import { sealStoredSecrets } from './seal-secrets.ts';
import { SqliteDatabase } from '../store/sqlite.ts';
import { WebhookDeliveries } from './webhook-deliveries.ts';

const PASSWORD = 'pw-Zq81-never-shown';
const HOOK = 'hook-secret-Kx4v-never-shown';
const REGISTRY = 'registry-secret-Jt7m-never-shown';
const URL_WITH_PASSWORD = `https://deploy-bot:${PASSWORD}@git.example.com/team/shop.git`;

/** The store as the version before sealing wrote it: its migrations only, secrets in plain text. */
async function legacyStore(file: string): Promise<void> {
  const db = new SqliteDatabase(file);
  const before = MIGRATIONS.findIndex((m) => m.includes('repo_credential'));
  await db.query('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)');
  for (let v = 1; v <= before; v++) {
    await db.query(MIGRATIONS[v - 1]!);
    await db.query('INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)', [v, 0]);
  }
  const failed = `git ls-remote of ${URL_WITH_PASSWORD} failed: fatal: unable to access '${URL_WITH_PASSWORD}/': 503`;
  await db.query(
    `INSERT INTO apps (namespace, name, repo_url, branch, path, webhook_secret, poll_interval_s, auto_sync, target, last_error, failures, next_poll_at, created_at)
     VALUES ('team', 'shop', $1, 'main', '.', $2, 60, 1, NULL, $3, 1, 0, 0)`,
    [URL_WITH_PASSWORD, HOOK, failed],
  );
  await db.query(`INSERT INTO deployments (namespace, app, seq, commit_sha, message, cause, status, functions, error, build_log, created_at) VALUES ('team', 'shop', 1, 'abc', '', 'poll', 'failed', '[]', $1, $2, 0)`, [failed, `[nestor] sync failed: ${failed}\n`]);
  await db.query('INSERT INTO registry_credentials (registry, username, secret, updated_at) VALUES ($1, $2, $3, 0)', ['registry.example.com', 'ci', REGISTRY]);
  await db.close();
}

function rawFiles(dir: string): string {
  return readdirSync(dir).map((f) => readFileSync(join(dir, f)).toString('latin1')).join('\n');
}

test('a plain-text store is sealed in place, once, and no old value is left in the file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'nestor-seal-'));
  const file = join(dir, 'nestor.db');
  await legacyStore(file);
  assert.ok(rawFiles(dir).includes(PASSWORD), 'the legacy store holds the password (the test would catch nothing otherwise)');

  const box = new SecretBox(Buffer.alloc(32, 3));
  const db = new SqliteDatabase(file);
  await migrate(db);
  assert.deepEqual(await sealStoredSecrets(db, box), { sealed: 3, urlsSplit: 1 });
  assert.deepEqual(await sealStoredSecrets(db, box), { sealed: 0, urlsSplit: 0 }, 'idempotent');

  const store = new GitopsStore(db, box);
  const app = (await store.app('team', 'shop'))!;
  assert.equal(app.repoUrl, 'https://git.example.com/team/shop.git');
  assert.deepEqual(app.repoCredential, { username: 'deploy-bot', password: PASSWORD });
  assert.equal(app.webhookSecret, HOOK);
  assert.match(app.lastError ?? '', /git ls-remote of https:\/\/git\.example\.com\/team\/shop\.git failed/);
  assert.ok(!(app.lastError ?? '').includes(PASSWORD));
  const d = (await store.deployment('team', 'shop', 1))!;
  assert.ok(!(d.error ?? '').includes(PASSWORD));
  assert.ok(!((await store.buildLog('team', 'shop', 1)) ?? '').includes(PASSWORD));
  assert.deepEqual(await store.credential('registry.example.com'), { username: 'ci', secret: REGISTRY });
  await db.close();

  const raw = rawFiles(dir);
  for (const secret of [PASSWORD, HOOK, REGISTRY]) assert.ok(!raw.includes(secret), `${secret} is not in the store's files`);

  // Another key: refused at start, with what to do.
  const other = new SqliteDatabase(file);
  await assert.rejects(sealStoredSecrets(other, new SecretBox(Buffer.alloc(32, 4))), { code: 'NESTOR_SECRET_KEY_MISMATCH' });
  await other.close();
});

test('a webhook delivery is claimed once, by its id or by its body, within the window', async () => {
  const db = new SqliteDatabase(':memory:');
  await migrate(db);
  const deliveries = new WebhookDeliveries(db, 60_000);
  assert.equal(await deliveries.claim(['github:d1', 'body:aa'], 1_000_000), true);
  assert.equal(await deliveries.claim(['github:d1', 'body:aa'], 1_000_001), false, 'the same delivery again');
  assert.equal(await deliveries.claim(['github:d2', 'body:aa'], 1_000_002), false, 'the same body under a new id');
  assert.equal(await deliveries.claim(['github:d3', 'body:bb'], 1_000_003), true);
  assert.equal(await deliveries.claim(['github:d1', 'body:aa'], 1_000_000 + 120_000), true, 'after the window it is new again');
  await db.close();
});
