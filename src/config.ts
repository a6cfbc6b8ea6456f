import { homedir } from 'node:os';
import { join } from 'node:path';

/** Where Nestor keeps its state: `--data-dir`, else NESTOR_DATA_DIR, else ~/.nestor. */
export function dataDir(env: NodeJS.ProcessEnv = process.env, flag?: string): string {
  return flag ?? env.NESTOR_DATA_DIR ?? join(homedir(), '.nestor');
}
