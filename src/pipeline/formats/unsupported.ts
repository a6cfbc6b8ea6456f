import type { PipelineProblem } from '../errors.ts';
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
