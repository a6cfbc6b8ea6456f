import type { z } from 'zod';
import type { PipelineProblem } from './errors.ts';
import { closest, didYouMean } from './suggest.ts';
import type { PathSegment, YamlSource } from './yaml-source.ts';

type Issue = z.core.$ZodIssue;

/** Where the part at a path (relative to the checked value) is written, and what to call it. */
export type Place = (path: PathSegment[]) => { base: PathSegment[]; what: string };

/**
 * Checks `value` (found at `path` in `source`) against a schema and turns every issue into a
 * problem at its file:line:column. Unknown keys are named with the closest known key.
 *
 * A map with problems is still read without the keys that have them, when the rest fits: the
 * checks that come later (names, depends_on, cycles) then see every part whose shape is fine,
 * and one run reports all the problems of a file. Undefined: nothing could be read.
 * `place` says where a part is written when that is not inside `path` (GitLab's `extends`).
 */
export function check<T>(
  source: YamlSource,
  schema: z.ZodType<T>,
  value: unknown,
  path: PathSegment[],
  what: string,
  problems: PipelineProblem[],
  place: Place = () => ({ base: path, what }),
): T | undefined {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issues = withoutFollowOns(schema, result.error.issues, value);
  for (const issue of issues) report(source, schema, issue, value, place, problems);
  return readable(schema, value, result.error.issues);
}

/** The value without its top-level keys that have issues, if that fits the schema. */
function readable<T>(schema: z.ZodType<T>, value: unknown, issues: readonly Issue[]): T | undefined {
  if (!isMap(value)) return undefined;
  const bad = new Set<PathSegment>();
  for (const issue of issues) {
    if (issue.path.length > 0) bad.add(issue.path[0] as PathSegment);
    else if (issue.code === 'unrecognized_keys') issue.keys.forEach((k) => bad.add(k));
    else return undefined; // the value itself is wrong (not a map, no alternative fits)
  }
  const rest = Object.fromEntries(Object.entries(value).filter(([k]) => !bad.has(k)));
  const again = schema.safeParse(rest);
  return again.success ? again.data : undefined;
}

/**
 * A misspelled key (`imgae`) also leaves its real key missing; that is the same mistake, so
 * the missing key is not reported when an unknown key beside it is suggested as its spelling.
 */
function withoutFollowOns(schema: z.ZodType, issues: readonly Issue[], value: unknown): Issue[] {
  const suggested = new Set<string>();
  for (const issue of issues) {
    if (issue.code !== 'unrecognized_keys') continue;
    const known = knownKeys(schema, issue.path as PathSegment[]);
    for (const key of issue.keys) {
      const match = closest(key, known);
      if (match !== undefined) suggested.add(JSON.stringify([...issue.path, match]));
    }
  }
  return issues.filter((i) => !(suggested.has(JSON.stringify(i.path)) && valueAt(value, i.path as PathSegment[]) === undefined));
}

function report(source: YamlSource, schema: z.ZodType, issue: Issue, value: unknown, place: Place, problems: PipelineProblem[]): void {
  const rel = issue.path as PathSegment[];
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeys(schema, rel);
    for (const key of issue.keys) {
      const { base, what } = place([...rel, key]);
      problems.push({ position: source.position([...base, ...rel], key), message: `unknown key "${key}" in ${what}${didYouMean(key, known)}` });
    }
    return;
  }
  if (issue.code === 'invalid_union') {
    // Report the alternative the author most likely meant: of those of the value's own type
    // (a map for a map), the one with the fewest complaints.
    const fitting = issue.errors.filter((b) => b.length > 0 && b.every((i) => i.code !== 'invalid_type' || i.path.length > 0));
    const best = fitting.sort((a, b) => a.length - b.length)[0];
    if (best) {
      for (const inner of best) report(source, schema, { ...inner, path: [...issue.path, ...inner.path] } as Issue, value, place, problems);
      return;
    }
  }
  const { base, what } = place(rel);
  const found = valueAt(value, rel);
  const last = rel[rel.length - 1];
  const where = (p: PathSegment[]) => (p.length ? ` at ${p.join('.')}` : '');
  if (found === undefined && typeof last === 'string') {
    const parent = rel.slice(0, -1);
    // At the key of the map that lacks it (`build:`), or at the list item.
    const map = [...base, ...parent];
    const named = typeof map[map.length - 1] === 'string';
    const position = named ? source.position(map.slice(0, -1), map[map.length - 1] as string) : source.position(map);
    problems.push({ position, message: `required key "${last}" is missing${where(parent)} in ${what}` });
    return;
  }
  problems.push({ position: source.position([...base, ...rel]), message: `${describe(issue, found)}${where(rel)} in ${what}` });
}

/** zod's message, or for a value none of a union's types fit, the types it may have. */
function describe(issue: Issue, found: unknown): string {
  if (issue.code !== 'invalid_union') return issue.message;
  const expected = issue.errors.flatMap((b) => b.filter((i) => i.code === 'invalid_type' && i.path.length === 0).map((i) => (i as { expected: string }).expected));
  if (expected.length < issue.errors.length) return issue.message;
  const received = found === null ? 'null' : Array.isArray(found) ? 'array' : typeof found;
  // In YAML's words: a list, a map.
  const yaml = (t: string) => ({ array: 'list', record: 'map', object: 'map' })[t] ?? t;
  return `expected ${[...new Set(expected.map(yaml))].join(' or ')}, received ${yaml(received)}`;
}

/** The part of a plain value at `path`; undefined when it is not there. */
export function valueAt(value: unknown, path: readonly PathSegment[]): unknown {
  let node = value;
  for (const segment of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<PathSegment, unknown>)[segment];
  }
  return node;
}

function isMap(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The keys a strict object accepts at `path` inside `schema`, for suggestions. */
function knownKeys(schema: z.ZodType, path: PathSegment[]): string[] {
  let node: unknown = schema;
  for (const segment of path) {
    node = unwrap(node);
    const def = (node as { def?: { type?: string; shape?: Record<string, unknown>; element?: unknown; valueType?: unknown } }).def;
    if (def?.type === 'object' && typeof segment === 'string') node = def.shape?.[segment];
    else if (def?.type === 'array') node = def.element;
    else if (def?.type === 'record') node = def.valueType;
    else return [];
  }
  const def = (unwrap(node) as { def?: { type?: string; shape?: Record<string, unknown> } }).def;
  return def?.type === 'object' ? Object.keys(def.shape ?? {}) : [];
}

function unwrap(node: unknown): unknown {
  let current = node;
  for (let i = 0; i < 10; i++) {
    const def = (current as { def?: { type?: string; innerType?: unknown; out?: unknown; options?: unknown[] } }).def;
    if (!def) return current;
    if (def.type === 'optional' || def.type === 'default' || def.type === 'nullable') current = def.innerType;
    else if (def.type === 'pipe') current = def.out;
    else if (def.type === 'union') current = def.options?.find((o) => (o as { def?: { type?: string } }).def?.type === 'object') ?? current;
    else return current;
    if (def.type === 'union') return current;
  }
  return current;
}
