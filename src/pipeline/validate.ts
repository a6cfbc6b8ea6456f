import type { z } from 'zod';
import type { PipelineProblem } from './errors.ts';
import { didYouMean } from './suggest.ts';
import type { PathSegment, YamlSource } from './yaml-source.ts';

type Issue = z.core.$ZodIssue;

/**
 * Checks `value` (found at `path` in `source`) against a schema and turns every issue into a
 * problem at its file:line:column. Unknown keys are named with the closest known key.
 */
export function check<T>(
  source: YamlSource,
  schema: z.ZodType<T>,
  value: unknown,
  path: PathSegment[],
  what: string,
  problems: PipelineProblem[],
): T | undefined {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  for (const issue of result.error.issues) report(source, schema, issue, path, what, problems);
  return undefined;
}

function report(source: YamlSource, schema: z.ZodType, issue: Issue, base: PathSegment[], what: string, problems: PipelineProblem[]): void {
  const path = [...base, ...(issue.path as PathSegment[])];
  if (issue.code === 'unrecognized_keys') {
    const known = knownKeys(schema, issue.path as PathSegment[]);
    for (const key of issue.keys) {
      problems.push({ position: source.position(path, key), message: `unknown key "${key}" in ${what}${didYouMean(key, known)}` });
    }
    return;
  }
  if (issue.code === 'invalid_union') {
    // Report the alternative the author most likely meant: the one with the fewest complaints.
    const branches = issue.errors.filter((b) => b.length > 0).sort((a, b) => a.length - b.length);
    const best = branches[0];
    if (best && best.every((i) => i.code !== 'invalid_type' || i.path.length > 0)) {
      for (const inner of best) report(source, schema, { ...inner, path: [...issue.path, ...inner.path] } as Issue, base, what, problems);
      return;
    }
  }
  const where = path.length ? ` at ${path.join('.')}` : '';
  problems.push({ position: source.position(path), message: `${issue.message}${where} in ${what}` });
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
