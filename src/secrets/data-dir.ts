import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { join } from 'node:path';

/** Files of the data directory that hold the store or its key. */
const PRIVATE_FILES = ['nestor.db', 'nestor.db-wal', 'nestor.db-shm', 'secret.key'];

/**
 * Makes the data directory 0700 and the store's files (database, -wal, -shm, key) 0600.
 * Call it before the store is opened: with `database` (the SQLite file's name) the file is
 * made 0600 before SQLite first creates it, and SQLite gives the -wal and -shm files it makes
 * later the database file's mode. Calling it again (after the open) mends what another
 * process made with looser modes. The process umask is left alone: it also shapes the files
 * of build contexts and job workspaces, which must stay readable in their containers.
 */
export function secureDataDir(dir: string, opts: { database?: string } = {}): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  chmodSync(dir, 0o700);
  if (opts.database) closeSync(openSync(join(dir, opts.database), 'a', 0o600));
  for (const name of new Set([...PRIVATE_FILES, ...(opts.database ? [opts.database, `${opts.database}-wal`, `${opts.database}-shm`] : [])])) {
    try {
      chmodSync(join(dir, name), 0o600);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}
