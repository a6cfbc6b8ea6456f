import { homedir } from 'node:os';
import { join } from 'node:path';

/**
 * The image for steps that name none, in `nestor run` and on runners alike: NESTOR_DEFAULT_IMAGE,
 * else the small base image every engine can get without a registry.
 */
export function defaultStepImage(env: NodeJS.ProcessEnv = process.env): string {
  return env.NESTOR_DEFAULT_IMAGE ?? 'busybox:latest';
}

/** Where Nestor keeps its state: `--data-dir`, else NESTOR_DATA_DIR, else ~/.nestor. */
export function dataDir(env: NodeJS.ProcessEnv = process.env, flag?: string): string {
  return flag ?? env.NESTOR_DATA_DIR ?? join(homedir(), '.nestor');
}
