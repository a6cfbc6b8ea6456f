import { randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NestorError } from '../errors.ts';
import { secureDataDir } from './data-dir.ts';

export const KEY_FILE = 'secret.key';

/** 32 bytes from hex (64 digits) or base64; anything else is refused, never stretched into a key. */
export function parseSecretKey(text: string, source: string): Buffer {
  const t = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, 'hex') : /^[A-Za-z0-9+/_-]{42,44}={0,2}$/.test(t) ? Buffer.from(t, 'base64') : undefined;
  if (!key || key.length !== 32) {
    throw new NestorError('NESTOR_SECRET_KEY_INVALID', `${source} is not a 32-byte key in base64 or hex`, 'Make one with `openssl rand -base64 32` (or 64 hex digits); keep it: the store\'s secrets open only with it.');
  }
  return key;
}

export interface LoadedKey {
  key: Buffer;
  /** Where it came from: the setting (NESTOR_SECRET_KEY), the data directory's key file, or a key file made now. */
  source: 'setting' | 'file' | 'new file';
  file?: string;
}

/**
 * The key that seals the store's secrets: the one given (NESTOR_SECRET_KEY), else
 * DATA_DIR/secret.key, made at the first start with mode 0600 (and kept 0600 afterwards).
 */
export function loadSecretKey(opts: { dataDir: string; key?: Buffer }): LoadedKey {
  if (opts.key) return { key: opts.key, source: 'setting' };
  secureDataDir(opts.dataDir);
  const file = join(opts.dataDir, KEY_FILE);
  try {
    // 'wx': of two processes starting at once, one makes the file and the other reads it.
    writeFileSync(file, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
    return { key: parseSecretKey(readFileSync(file, 'utf8'), file), source: 'new file', file };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new NestorError('NESTOR_SECRET_KEY_FILE', `Cannot make the key file ${file}: ${(err as Error).message}`, 'Make the data directory writable by the server, or set NESTOR_SECRET_KEY.');
  }
  chmodSync(file, 0o600);
  return { key: parseSecretKey(readFileSync(file, 'utf8'), file), source: 'file', file };
}
