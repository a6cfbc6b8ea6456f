import { z } from 'zod';
import type { Condition, Filter, VolumeRef } from './model.ts';
import type { PathSegment } from './yaml-source.ts';

/** Schema pieces shared by the formats that look alike (Nestor, Drone, Woodpecker). */

export const scalar = z.union([z.string(), z.number(), z.boolean()]);
/** A string or a list of strings. */
export const stringList = z.union([z.string(), z.array(z.string())]);
/** Patterns as a string, a list, or `{include, exclude}`. */
export const filterSchema = z.union([z.string(), z.array(z.string()), z.strictObject({ include: stringList.optional(), exclude: stringList.optional() })]);
export const statusSchema = z.union([z.enum(['success', 'failure']), z.array(z.enum(['success', 'failure']))]);
export const environmentSchema = z.record(z.string(), z.union([scalar, z.null()]));
export const commandSchema = z.union([z.string(), z.array(z.string())]);
/** A duration: seconds as a number, or `90s`, `10m`, `1h 30m`. */
export const durationSchema = z.union([z.number().positive(), z.string().regex(/^\s*(\d+\s*[hms]\s*)+$/, 'expected a duration like 90s, 10m or 1h 30m')]);

export function listOf(value: string | string[] | undefined): string[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}

export function toFilter(value: z.infer<typeof filterSchema> | undefined): Filter | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'string' || Array.isArray(value)) return { include: listOf(value), exclude: [] };
  return { include: listOf(value.include), exclude: listOf(value.exclude) };
}

/** The run's facts that conditions may name beyond branch, event, ref, status and paths. */
export const SERVER_FACTS = ['repo', 'instance', 'target', 'cron', 'action'] as const;
/** Facts of the machine a job runs on, known wherever it is compiled. */
export const MACHINE_FACTS = ['platform'] as const;

export function toCondition(value: {
  branch?: z.infer<typeof filterSchema>;
  event?: z.infer<typeof filterSchema>;
  status?: z.infer<typeof statusSchema>;
  paths?: z.infer<typeof filterSchema>;
  ref?: z.infer<typeof filterSchema>;
  repo?: z.infer<typeof filterSchema>;
  instance?: z.infer<typeof filterSchema>;
  target?: z.infer<typeof filterSchema>;
  cron?: z.infer<typeof filterSchema>;
  action?: z.infer<typeof filterSchema>;
  platform?: z.infer<typeof filterSchema>;
  evaluate?: string;
  matrix?: Record<string, string | number | boolean>;
}): Condition {
  const condition: Condition = {};
  const branch = toFilter(value.branch);
  const event = toFilter(value.event);
  const paths = toFilter(value.paths);
  if (branch) condition.branch = branch;
  if (event) condition.event = event;
  if (paths) condition.paths = paths;
  const ref = toFilter(value.ref);
  if (ref) condition.ref = ref;
  if (value.evaluate !== undefined) condition.evaluate = value.evaluate;
  if (value.matrix) condition.matrix = Object.fromEntries(Object.entries(value.matrix).map(([k, v]) => [k, String(v)]));
  for (const fact of [...SERVER_FACTS, ...MACHINE_FACTS]) {
    const filter = toFilter(value[fact]);
    if (filter) (condition.facts ??= {})[fact] = filter;
  }
  if (value.status !== undefined) condition.status = Array.isArray(value.status) ? value.status : [value.status];
  return condition;
}

export function toEnvironment(value: Record<string, string | number | boolean | null> | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(value ?? {})) env[k] = v === null ? '' : String(v);
  return env;
}

export function toSeconds(value: z.infer<typeof durationSchema> | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number') return value;
  let total = 0;
  for (const m of value.matchAll(/(\d+)\s*([hms])/g)) total += Number(m[1]) * { h: 3600, m: 60, s: 1 }[m[2] as 'h' | 'm' | 's'];
  return total;
}

/** `name:/path`, `name:/path:ro`, `/host:/path` or `./dir:/path`, as Docker writes volumes. */
export function parseVolumeString(spec: string, at: PathSegment[]): VolumeRef | undefined {
  const parts = spec.split(':');
  if (parts.length < 2 || parts.length > 3 || !parts[0] || !parts[1]) return undefined;
  const mode = parts[2];
  if (mode !== undefined && mode !== 'ro' && mode !== 'rw') return undefined;
  return { source: parts[0], target: parts[1], readOnly: mode === 'ro', at };
}

/** Commands as Docker takes them: a string is split on spaces (no shell), a list kept. */
export function toArgv(value: string | string[] | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value : value.split(/\s+/).filter(Boolean);
}

/** Ports written as `5432`, `"5432"` or `"5432/tcp"`. */
export function toPorts(values: (string | number)[] | undefined): number[] {
  return (values ?? []).map((p) => Number(String(p).replace(/\/tcp$/, ''))).filter((p) => Number.isInteger(p) && p > 0 && p < 65536);
}
