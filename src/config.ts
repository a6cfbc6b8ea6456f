import { homedir } from 'node:os';
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
  const n = Number(env.NESTOR_STEP_SLOTS ?? DEFAULT_STEP_SLOTS);
  return Number.isInteger(n) && n >= 0 ? Math.min(n, 32) : DEFAULT_STEP_SLOTS;
}
const DEFAULT_STEP_SLOTS = 8;

/** Where Nestor keeps its state: `--data-dir`, else NESTOR_DATA_DIR, else ~/.nestor. */
export function dataDir(env: NodeJS.ProcessEnv = process.env, flag?: string): string {
  return flag ?? env.NESTOR_DATA_DIR ?? join(homedir(), '.nestor');
}
