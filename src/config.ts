import { availableParallelism, homedir, totalmem } from 'node:os';
import { NestorError } from './errors.ts';
import { delimiter, isAbsolute, join } from 'node:path';
import { parseSecretKey } from './secrets/secret-key.ts';

/**
 * Nestor's settings from the environment, one reader each. Only the edge (src/cli) reads
 * process.env: it passes it here and hands the typed values down as options, so that library
 * code takes its configuration as parameters and never reads the environment itself.
 */

/** The small base image every engine can get without a registry. */
export const DEFAULT_STEP_IMAGE = 'busybox:latest';

/**
 * The image GitHub-style `runs-on: ubuntu-*` jobs run in unless `-P LABEL=IMAGE` says otherwise:
 * Debian bookworm with what workflows most assume of a hosted runner (bash, git, curl, the
 * docker and docker-compose clients, python3, jq, make, sudo), made by `nestor images bootstrap`.
 */
export const DEFAULT_RUNNER_IMAGE = 'nestor/runner:bookworm-1';

/**
 * The Node that JavaScript actions run with, as GitHub mounts its own into a job container:
 * an image the set-up makes from Nestor's own Node, whose ACTIONS_NODE_DIR a job's volume takes
 * and the job container mounts at the same place.
 */
export const ACTIONS_NODE_IMAGE = 'nestor/actions-node:24';
export const ACTIONS_NODE_DIR = '/__e/node24';

/** The image for steps that name none, in `nestor run` and on runners alike: NESTOR_DEFAULT_IMAGE, else DEFAULT_STEP_IMAGE. */
export function defaultStepImage(env: NodeJS.ProcessEnv): string {
  return env.NESTOR_DEFAULT_IMAGE ?? DEFAULT_STEP_IMAGE;
}

/**
 * How many containers of the default step image each warm engine starts ahead, waiting for
 * a job's steps (NESTOR_STEP_SLOTS). Each saves a step the ~200 ms of a container start and
 * costs a few MB while idle; 0 turns them off.
 */
export function stepSlots(env: NodeJS.ProcessEnv): number {
  const raw = env.NESTOR_STEP_SLOTS?.trim();
  if (raw === undefined || raw === '') return DEFAULT_STEP_SLOTS;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 32) {
    throw new NestorError('NESTOR_CONFIG_INVALID', `NESTOR_STEP_SLOTS=${raw} is not a number of step slots`, 'Set it to a whole number from 0 (none) to 32, or unset it for the default of 8.');
  }
  return n;
}
export const DEFAULT_STEP_SLOTS = 8;

/**
 * A runner's jobs at once unless `--max-jobs` says otherwise: three per core (a CI job spends
 * much of its time on the network, the disk and its engine's start), at most one per 2 GiB of
 * memory (each holds an engine of its own), never fewer than 2 nor more than 8. Its warm pool
 * is as large, so that a burst of that many jobs (a matrix) starts on ready engines.
 */
export function defaultMaxJobs(cpus = availableParallelism(), memoryBytes = totalmem()): number {
  const byMemory = Math.floor(memoryBytes / 2 ** 31);
  return Math.max(2, Math.min(8, cpus * 3, byMemory));
}

/** Where Nestor keeps its state: `--data-dir`, else NESTOR_DATA_DIR, else ~/.nestor. */
export function dataDir(env: NodeJS.ProcessEnv, flag?: string): string {
  return flag ?? env.NESTOR_DATA_DIR ?? join(homedir(), '.nestor');
}

/** Where a runner keeps its mirrors of repositories (NESTOR_REPO_CACHE, else ~/.cache/nestor/mirrors). */
export function repoCacheDir(env: NodeJS.ProcessEnv): string {
  return env.NESTOR_REPO_CACHE ?? join(env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'nestor', 'mirrors');
}

/** A TCP port from a flag or its variable (`what` names both); 0 asks for any free port. */
export function portNumber(value: string, what: string): number {
  const n = Number(value.trim());
  if (value.trim() === '' || !Number.isInteger(n) || n < 0 || n > 65_535) {
    throw new NestorError('NESTOR_USAGE', `${what} ${JSON.stringify(value)} is not a port`, 'Give a whole number from 1 to 65535 (0 picks any free port).');
  }
  return n;
}

/**
 * Where running Nestor processes keep their heartbeats (NESTOR_RUN_DIR), so that one can tell
 * a dead process's engines from a live one's; processes sharing a Docker engine on one host
 * should share it. Unset: a folder in the system's temporary directory.
 */
export function runDir(env: NodeJS.ProcessEnv): string | undefined {
  return env.NESTOR_RUN_DIR || undefined;
}

/** The key that seals the store's secrets (NESTOR_SECRET_KEY: 32 bytes, base64 or hex); unset: the data directory's key file. */
export function secretKey(env: NodeJS.ProcessEnv): Buffer | undefined {
  const raw = env.NESTOR_SECRET_KEY?.trim();
  return raw ? parseSecretKey(raw, 'NESTOR_SECRET_KEY') : undefined;
}

/**
 * Directories under which the admin may add local repositories (NESTOR_LOCAL_REPO_ROOTS,
 * absolute paths separated by ":"). Unset: none, so no application reads the server's disk.
 */
export function localRepoRoots(env: NodeJS.ProcessEnv): string[] {
  const roots = (env.NESTOR_LOCAL_REPO_ROOTS ?? '').split(delimiter).map((r) => r.trim()).filter(Boolean);
  const relative = roots.find((r) => !isAbsolute(r));
  if (relative) throw new NestorError('NESTOR_CONFIG_INVALID', `NESTOR_LOCAL_REPO_ROOTS names ${JSON.stringify(relative)}, which is not an absolute path`, 'List absolute directories separated by ":", e.g. NESTOR_LOCAL_REPO_ROOTS=/srv/git:/home/ci/repos.');
  return roots;
}

/**
 * Images to start nested engines from instead of Nestor's own (NESTOR_ROOTLESS_IMAGE, built like
 * nestor/dind for the rootless engine) or the official docker:dind (NESTOR_DIND_IMAGE).
 */
export function engineImages(env: NodeJS.ProcessEnv): { rootless?: string; dind?: string } {
  return { ...(env.NESTOR_ROOTLESS_IMAGE ? { rootless: env.NESTOR_ROOTLESS_IMAGE } : {}), ...(env.NESTOR_DIND_IMAGE ? { dind: env.NESTOR_DIND_IMAGE } : {}) };
}

/**
 * Registries that nested engines reach over plain HTTP (NESTOR_INSECURE_REGISTRIES, `host:port`
 * separated by commas): a team's own registry without TLS, for GitOps' pushes and jobs' pulls.
 */
export function insecureRegistries(env: NodeJS.ProcessEnv): string[] {
  return (env.NESTOR_INSECURE_REGISTRIES ?? '').split(',').map((r) => r.trim()).filter(Boolean);
}

/** The Debian mirror `nestor images bootstrap` builds the engine image from (NESTOR_DEBIAN_MIRROR). */
export function debianMirror(env: NodeJS.ProcessEnv): string | undefined {
  return env.NESTOR_DEBIAN_MIRROR || undefined;
}

/**
 * How many days ended pipelines and jobs, with their logs and artifacts, are kept
 * (NESTOR_RETENTION_DAYS; default 90; 0 keeps them for ever).
 */
export function retentionDays(env: NodeJS.ProcessEnv): number {
  const raw = env.NESTOR_RETENTION_DAYS?.trim();
  if (raw === undefined || raw === '') return DEFAULT_RETENTION_DAYS;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 0 || n > 36_500) {
    throw new NestorError('NESTOR_CONFIG_INVALID', `NESTOR_RETENTION_DAYS=${raw} is not a number of days`, 'Set it to a whole number of days (0 keeps everything), or unset it for the default of 90.');
  }
  return n;
}
export const DEFAULT_RETENTION_DAYS = 90;
