import { homedir } from 'node:os';
import { NestorError } from './errors.ts';
import { join } from 'node:path';

/**
 * The image for steps that name none, in `nestor run` and on runners alike: NESTOR_DEFAULT_IMAGE,
 * else the small base image every engine can get without a registry.
 */
export function defaultStepImage(env: NodeJS.ProcessEnv = process.env): string {
  return env.NESTOR_DEFAULT_IMAGE ?? 'busybox:latest';
}

/**
 * How many containers of the default step image each warm engine starts ahead, waiting for
 * a job's steps (NESTOR_STEP_SLOTS). Each saves a step the ~200 ms of a container start and
 * costs a few MB while idle; 0 turns them off.
 */
export function stepSlots(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env.NESTOR_STEP_SLOTS?.trim();
  if (raw === undefined || raw === '') return DEFAULT_STEP_SLOTS;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 32) {
    throw new NestorError('NESTOR_CONFIG_INVALID', `NESTOR_STEP_SLOTS=${raw} is not a number of step slots`, 'Set it to a whole number from 0 (none) to 32, or unset it for the default of 8.');
  }
  return n;
}
const DEFAULT_STEP_SLOTS = 8;

/** Where Nestor keeps its state: `--data-dir`, else NESTOR_DATA_DIR, else ~/.nestor. */
export function dataDir(env: NodeJS.ProcessEnv = process.env, flag?: string): string {
  return flag ?? env.NESTOR_DATA_DIR ?? join(homedir(), '.nestor');
}
