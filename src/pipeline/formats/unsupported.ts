import { z } from 'zod';
import type { PipelineProblem } from '../errors.ts';
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
