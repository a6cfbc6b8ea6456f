import { z } from 'zod';
import type { PipelineNotice, PipelineProblem } from '../errors.ts';
import type { StepConfig } from '../model.ts';
import type { PathSegment, YamlSource } from '../yaml-source.ts';

/**
 * Keys of another CI system's format that Nestor recognises but does not run. Each is named
 * with what to do instead; none is dropped silently.
 */
export function unsupportedKeys(
  source: YamlSource,
  value: Record<string, unknown>,
  path: PathSegment[],
  keys: Record<string, string>,
  problems: PipelineProblem[],
): void {
  for (const [key, advice] of Object.entries(keys)) {
    if (key in value) problems.push({ position: source.position(path, key), message: `"${key}" is not supported by Nestor: ${advice}` });
  }
}

/** Schema entries that accept the recognised-but-unsupported keys, so they can be reported with advice. */
export function recognised(keys: Record<string, string>): Record<string, z.ZodOptional<z.ZodUnknown>> {
  return Object.fromEntries(Object.keys(keys).map((k) => [k, z.unknown().optional()]));
}

/** Drone's and Woodpecker's `environment`: plain values, and `{from_secret: name}` as secrets. */
export function environmentWithSecrets(
  env: Record<string, string | number | boolean | null | { from_secret: string }> | undefined,
): { environment: Record<string, string>; secrets: StepConfig['secrets'] } {
  const environment: Record<string, string> = {};
  const secrets: StepConfig['secrets'] = [];
  for (const [k, v] of Object.entries(env ?? {})) {
    if (v !== null && typeof v === 'object') secrets.push({ name: v.from_secret, env: k });
    else environment[k] = v === null ? '' : String(v);
  }
  return { environment, secrets };
}

/**
 * Plugin images that start a Docker daemon of their own unless told not to: they get the
 * job's engine instead (its socket where their client looks, and the plugins' own switch to
 * leave the daemon off), since a second daemon would need privileges a job does not hold.
 */
const DAEMON_PLUGINS = /^(?:[^/]+\/)?(?:plugins\/(?:docker|ecr|gcr|acr|heroku)|woodpeckerci\/plugin-docker-buildx|thegeeklab\/drone-docker-buildx|plugins\/docker-buildx)(?::|@|$)/;

export function startsOwnDaemon(image: string): boolean {
  return DAEMON_PLUGINS.test(image);
}

/**
 * A plugin step's `settings` as Drone's and Woodpecker's runners hand them over: each setting
 * as `PLUGIN_NAME` (upper case, other characters as `_`), lists of plain values joined with
 * commas, objects and lists of objects as JSON, and `{from_secret: name}` as the secret.
 */
export function pluginSettings(settings: Record<string, unknown> | undefined): { environment: Record<string, string>; secrets: StepConfig['secrets'] } {
  const environment: Record<string, string> = {};
  const secrets: StepConfig['secrets'] = [];
  for (const [key, value] of Object.entries(settings ?? {})) {
    const name = `PLUGIN_${key.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
    if (isSecretRef(value)) secrets.push({ name: value.from_secret, env: name });
    else if (value === null || value === undefined) environment[name] = '';
    else if (Array.isArray(value)) environment[name] = value.every((v) => v === null || typeof v !== 'object') ? value.map((v) => (v === null ? '' : String(v))).join(',') : JSON.stringify(value);
    else if (typeof value === 'object') environment[name] = JSON.stringify(value);
    else environment[name] = String(value);
  }
  return { environment, secrets };
}

function isSecretRef(value: unknown): value is { from_secret: string } {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && Object.keys(value).length === 1 && typeof (value as { from_secret?: unknown }).from_secret === 'string';
}

/** What a plugin step gets besides its settings: the job's engine, for a plugin that would start its own daemon. */
export function pluginEngine(image: string, at: PathSegment[]): { environment: Record<string, string>; volumes: StepConfig['volumes'] } {
  if (!startsOwnDaemon(image)) return { environment: {}, volumes: [] };
  return { environment: { PLUGIN_DAEMON_OFF: 'true' }, volumes: [{ source: '/var/run/docker.sock', target: '/var/run/docker.sock', readOnly: false, at }] };
}

/**
 * What `pull` means here, said once per container that writes it: every job engine is new, so
 * every image is pulled for it whatever `pull` says; the host's copy is served first when it
 * has one. `always` therefore gets the registry's newest only where the host has no copy.
 */
export function pullNotice(source: YamlSource, at: PathSegment[], name: string, pull: string | boolean): PipelineNotice {
  const policy = pull === true ? 'always' : String(pull);
  const meaning = policy === 'always' || policy === 'true'
    ? 'the job engine is new, so its images are pulled for it every time; the host\'s copy is served first when it has one (run docker pull on the host to refresh it)'
    : 'the job engine is new, so its images are pulled for it every time, from the host\'s copy first';
  return source.notice(at, 'pull', 'NESTOR_PULL_POLICY', `${name}: pull ${policy}: ${meaning}`, 'info');
}
