import type { Logger } from 'pino';
import { secureDataDir } from '../secrets/data-dir.ts';
import { SecretBox } from '../secrets/secret-box.ts';
import { loadSecretKey } from '../secrets/secret-key.ts';
import type { Database } from '../store/database.ts';
import { sealStoredSecrets } from './seal-secrets.ts';

/**
 * The box that seals the store's secrets, with the store brought up to date first: secrets an
 * earlier version kept in plain text are sealed now. The data directory is made private here
 * too, as it holds the key file.
 */
export async function openSecrets(db: Database, dataDir: string, key: Buffer | undefined, logger: Logger): Promise<SecretBox> {
  secureDataDir(dataDir);
  const loaded = loadSecretKey({ dataDir, ...(key ? { key } : {}) });
  const box = new SecretBox(loaded.key);
  if (loaded.source === 'new file') {
    logger.info({ file: loaded.file, keyId: box.keyId }, db.kind === 'postgres' ? 'made the key that seals secrets; every server on this database needs it: set NESTOR_SECRET_KEY to its content on the others' : 'made the key that seals secrets (keep it with the store: they do not open without it)');
  }
  const report = await sealStoredSecrets(db, box);
  if (report.sealed || report.urlsSplit) logger.info({ ...report, keyId: box.keyId }, 'secrets kept in plain text by an earlier version are sealed now');
  return box;
}
