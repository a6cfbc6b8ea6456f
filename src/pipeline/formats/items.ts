import type { PipelineProblem } from '../errors.ts';
import type { PipelineConfig } from '../model.ts';
import type { PathSegment, YamlSource } from '../yaml-source.ts';

/** How the formats read their lists and maps of steps, shared so they report alike. */

/** A list or a map of items, each with its key (index or name) and its path. */
export function entries(value: unknown[] | Record<string, unknown>, base: PathSegment[]): [string | number, unknown, PathSegment[]][] {
  return Array.isArray(value)
    ? value.map((v, i) => [i, v, [...base, i]])
    : Object.entries(value).map(([k, v]) => [k, v, [...base, k]]);
}

/**
 * The name an item is written with, read before its shape is checked so that an item with
 * problems still has one: its map key, its `name`, else `fallback`. Undefined: `name` is
 * there but not a string, so the item cannot be told by name.
 */
export function nameOf(raw: unknown, key: string | number, fallback?: string): string | undefined {
  if (typeof key === 'string') return key;
  const name = raw !== null && typeof raw === 'object' ? (raw as { name?: unknown }).name : undefined;
  return typeof name === 'string' ? name : name === undefined ? fallback : undefined;
}

/** Where each entry of a `depends_on` written as one name or a list of names is. */
export function entryPaths(value: string | string[] | undefined, at: PathSegment[]): PathSegment[][] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value.map((_, i) => [...at, i]) : [at];
}

/**
 * A pipeline whose top level could not be read at all (not a map, `steps` missing): only its
 * problems, and a step of unknown name, so that no check reports what those problems cause.
 */
export function unreadable(
  source: YamlSource,
  format: PipelineConfig['format'],
  workspace: string,
  problems: PipelineProblem[],
  unsupported: PipelineProblem[] = [],
): PipelineConfig {
  return {
    name: format,
    format,
    file: source.file,
    environment: {},
    steps: [],
    services: [],
    volumes: [],
    matrix: [{}],
    workspace,
    when: [],
    at: [],
    problems,
    unsupported,
    unread: [{ at: [] }],
  };
}

export function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
