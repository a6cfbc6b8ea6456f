import type { PipelineProblem } from '../errors.ts';
import { PipelineLimitError } from '../limits.ts';
import { didYouMean } from '../suggest.ts';
import { valueAt } from '../validate.ts';
import type { PathSegment, YamlSource } from '../yaml-source.ts';

/**
 * GitLab's `extends`: a job's content is its templates' content deep-merged, then its own.
 * Each job is resolved once, so a problem in a template shared by many jobs is reported once,
 * where it is written.
 */
export class Extends {
  private readonly done = new Map<string, { merged: Record<string, unknown>; from: string[] }>();
  private readonly visiting: string[] = [];
  private readonly raw: Record<string, unknown>;
  private readonly source: YamlSource;
  private readonly problems: PipelineProblem[];
  private readonly names: string[];
  /** Called instead of reporting a parent that is not in the file, when it may be in content not read from here. */
  private readonly onUnknown: ((child: string, parent: string, at: PathSegment[]) => void) | undefined;

  constructor(raw: Record<string, unknown>, names: string[], source: YamlSource, problems: PipelineProblem[], onUnknown?: (child: string, parent: string, at: PathSegment[]) => void) {
    this.onUnknown = onUnknown;
    this.raw = raw;
    this.names = names;
    this.source = source;
    this.problems = problems;
  }

  /** The job's merged content, and the names it came from, templates first, itself last. */
  resolve(name: string): { merged: Record<string, unknown>; from: string[] } {
    const cached = this.done.get(name);
    if (cached) return cached;
    const max = this.source.limits.extendsDepth;
    if (this.visiting.length > max) {
      const child = this.visiting[this.visiting.length - 1]!;
      throw new PipelineLimitError('extendsDepth', max, this.source.position([child, 'extends']), `${[...this.visiting, name].join(' → ')}: extends goes more than ${max} levels deep`);
    }
    this.visiting.push(name);
    const own = isPlain(this.raw[name]) ? this.raw[name] : {};
    let merged: Record<string, unknown> = {};
    const from: string[] = [];
    for (const [parent, at] of this.parents(name, own.extends)) {
      if (this.visiting.includes(parent)) {
        const cycle = [...this.visiting.slice(this.visiting.indexOf(parent)), parent];
        this.problems.push({ position: this.source.position(at), message: `extends makes a cycle: ${cycle.join(' → ')}` });
      } else if (!(parent in this.raw) && this.onUnknown) {
        this.onUnknown(name, parent, at);
      } else if (!(parent in this.raw)) {
        this.problems.push({ position: this.source.position(at), message: `${name.startsWith(".") ? name : `job ${name}`} extends unknown job "${parent}"${didYouMean(parent, this.names)}` });
      } else {
        const resolved = this.resolve(parent);
        merged = deepMerge(merged, resolved.merged);
        from.push(...resolved.from.filter((f) => !from.includes(f)));
      }
    }
    const { extends: _, ...rest } = own;
    this.visiting.pop();
    const result = { merged: deepMerge(merged, rest), from: [...from.filter((f) => f !== name), name] };
    this.done.set(name, result);
    return result;
  }

  /**
   * Which of the names a job came from has `path` written: the last one, since its value is
   * the one that counts; for a map merged from several, the one that has the key at all.
   */
  owner(name: string, path: PathSegment[]): string {
    const from = [...this.resolve(name).from].reverse();
    return from.find((f) => valueAt(this.raw[f], path) !== undefined) ?? from.find((f) => valueAt(this.raw[f], path.slice(0, 1)) !== undefined) ?? name;
  }

  /** The parents a job names, each with where it is named; a value of the wrong type is reported. */
  private parents(name: string, value: unknown): [string, PathSegment[]][] {
    if (value === undefined) return [];
    if (typeof value === 'string') return [[value, [name, 'extends']]];
    if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value.map((v, i) => [v, [name, 'extends', i]]);
    this.problems.push({ position: this.source.position([name, 'extends']), message: `extends in ${name} is not a job name or a list of job names` });
    return [];
  }
}

export function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] = isPlain(prev) && isPlain(v) ? deepMerge(prev, v) : v;
  }
  return out;
}

export function isPlain(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
