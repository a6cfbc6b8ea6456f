import { splitRepoUrl } from './repo-url.ts';
import { redactSecrets } from '../secrets/redact.ts';
import { SecretBox, SecretKeyMismatchError } from '../secrets/secret-box.ts';
import type { Database } from '../store/database.ts';
import { secretContext } from './store.ts';

export interface SealReport {
  /** Values sealed now (webhook secrets, registry secrets, repository credentials). */
  sealed: number;
  /** Applications whose repository URL carried credentials, now kept apart. */
  urlsSplit: number;
}

/**
 * Brings a store written by an earlier version up to "no secret in plain text": webhook and
 * registry secrets are sealed, credentials are taken out of repository URLs (and out of the
 * errors and build logs that quoted them). Safe to run at every start, and by several servers
 * at once: a row is changed only if it still holds what was read. On SQLite the file is then
 * rewritten (VACUUM) and the WAL emptied, so the old values are not left in free pages.
 */
export async function sealStoredSecrets(db: Database, box: SecretBox): Promise<SealReport> {
  const report: SealReport = { sealed: 0, urlsSplit: 0 };
  if (db.kind === 'sqlite') await db.query('PRAGMA secure_delete = ON');
  try {
    await db.transaction(async (tx) => {
      await checkKey(tx, box);
      await sealApps(tx, box, report);
      await sealRegistries(tx, box, report);
    });
    if (db.kind === 'sqlite' && report.sealed + report.urlsSplit > 0) {
      await db.query('VACUUM');
      await db.query('PRAGMA wal_checkpoint(TRUNCATE)');
    }
  } finally {
    if (db.kind === 'sqlite') await db.query('PRAGMA secure_delete = OFF');
  }
  return report;
}

/**
 * A store sealed under another key is refused at start, not on the first webhook: the first
 * server to start records its key's id, and every later one must have the same key (also two
 * servers starting at once on an empty database, before either has sealed anything).
 */
async function checkKey(tx: Database, box: SecretBox): Promise<void> {
  await tx.query("INSERT INTO store_settings (name, value) VALUES ('secret_key_id', $1) ON CONFLICT (name) DO NOTHING", [box.keyId]);
  const [setting] = await tx.query<{ value: string }>("SELECT value FROM store_settings WHERE name = 'secret_key_id'");
  if (setting && setting.value !== box.keyId) throw new SecretKeyMismatchError(setting.value, box.keyId);
  const like = 'nestor-sealed:%';
  const rows = await tx.query<{ v: string }>(
    `SELECT v FROM (SELECT webhook_secret AS v FROM apps WHERE webhook_secret LIKE $1
       UNION ALL SELECT repo_credential AS v FROM apps WHERE repo_credential LIKE $1
       UNION ALL SELECT secret AS v FROM registry_credentials WHERE secret LIKE $1) sealed LIMIT 1`,
    [like],
  );
  const found = rows[0] ? SecretBox.keyIdOf(rows[0].v) : undefined;
  if (found && found !== box.keyId) throw new SecretKeyMismatchError(found, box.keyId);
}

type AppRow = { namespace: string; name: string; repo_url: string; repo_credential: string | null; webhook_secret: string | null; last_error: string | null };

async function sealApps(tx: Database, box: SecretBox, report: SealReport): Promise<void> {
  const apps = await tx.query<AppRow>('SELECT namespace, name, repo_url, repo_credential, webhook_secret, last_error FROM apps');
  for (const a of apps) {
    const webhook = a.webhook_secret !== null && !SecretBox.isSealed(a.webhook_secret) ? box.seal(a.webhook_secret, secretContext.webhook(a.namespace, a.name)) : a.webhook_secret;
    const split = splitRepoUrl(a.repo_url, { lenient: true });
    const urlChanged = split.url !== a.repo_url;
    if (webhook === a.webhook_secret && !urlChanged) continue;
    const credential = split.credential ? box.seal(JSON.stringify(split.credential), secretContext.repo(a.namespace, a.name)) : a.repo_credential;
    const hidden = [...passwordForms(a.repo_url), split.credential?.password, split.credential?.username];
    const lastError = a.last_error === null ? null : redactSecrets(a.last_error.split(a.repo_url).join(split.url), hidden);
    const changed = await tx.query(
      'UPDATE apps SET repo_url = $3, repo_credential = $4, webhook_secret = $5, last_error = $6 WHERE namespace = $1 AND name = $2 AND repo_url = $7 RETURNING name',
      [a.namespace, a.name, split.url, credential, webhook, lastError, a.repo_url],
    );
    if (!changed.length) continue; // another server got there first
    if (webhook !== a.webhook_secret) report.sealed++;
    if (urlChanged) {
      report.urlsSplit++;
      if (split.credential) report.sealed++;
      await scrubDeployments(tx, a, split.url, hidden);
    }
  }
}

/** The password as the URL wrote it (percent-encoded) and as it reads, and the whole URL. */
function passwordForms(url: string): string[] {
  try {
    const u = new URL(url);
    return [url, u.password, decodeURIComponent(u.password), u.username].filter(Boolean);
  } catch {
    return [url];
  }
}

/** Errors and build logs of the application's deployments quoted the URL with its password. */
async function scrubDeployments(tx: Database, app: AppRow, cleanUrl: string, hidden: (string | undefined)[]): Promise<void> {
  // The whole URL first (so it reads as the clean URL), then what is left of the credentials.
  const replacements: [string, string][] = [[app.repo_url, cleanUrl], ...hidden.filter((h): h is string => !!h && h.length >= 6 && h !== app.repo_url).map((h): [string, string] => [h, '***'])];
  for (const [from, to] of replacements) {
    await tx.query('UPDATE deployments SET build_log = REPLACE(build_log, $3, $4), error = REPLACE(error, $3, $4) WHERE namespace = $1 AND app = $2', [app.namespace, app.name, from, to]);
  }
}

async function sealRegistries(tx: Database, box: SecretBox, report: SealReport): Promise<void> {
  const rows = await tx.query<{ registry: string; secret: string }>('SELECT registry, secret FROM registry_credentials');
  for (const r of rows) {
    if (SecretBox.isSealed(r.secret)) continue;
    const changed = await tx.query('UPDATE registry_credentials SET secret = $2 WHERE registry = $1 AND secret = $3 RETURNING registry', [r.registry, box.seal(r.secret, secretContext.registry(r.registry)), r.secret]);
    if (changed.length) report.sealed++;
  }
}
