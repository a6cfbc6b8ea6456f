import { DEFAULT_PIPELINE_LIMITS } from './limits.ts';
import { compileRegex, type Regex } from './re2.ts';

/**
 * Drone and Woodpecker expand `${NAME}` in a pipeline file's text before they read it, from
 * the run's own variables (commit, branch, tag, repository, build parameters), with a part of
 * bash's string operations: `${DRONE_COMMIT_SHA:0:8}`, `${DRONE_TAG##v}`,
 * `${DRONE_BRANCH/\//-}`, `${VAR=default}`, `${VAR^^}`. A name the run does not have becomes
 * empty, as there; `$${NAME}` is the way to write a literal `${NAME}` for the shell. Plain
 * `$NAME` is the shell's and stays. Comment lines are left alone, so that a commented-out
 * expression can never break a file.
 */

export class SubstitutionError extends Error {
  readonly line: number;
  readonly column: number;
  constructor(line: number, column: number, message: string) {
    super(message);
    this.line = line;
    this.column = column;
  }
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*/;

/**
 * `kept` names are left as written: Woodpecker expands a matrix axis per matrix job, which
 * the compiler does for each job it makes.
 */
export function preSubstitute(text: string, vars: Record<string, string>, kept: Keep = new Set()): string {
  return text
    .split('\n')
    .map((line, i) => (/^\s*#/.test(line) ? line : substituteLine(line, vars, kept, i + 1, true)))
    .join('\n');
}

/**
 * Every string of an evaluated document (a `.drone.jsonnet`'s result) expanded the same way,
 * as Drone expands the text its converter hands on: a value is a string here, never quoted.
 */
export function substituteStrings(value: unknown, vars: Record<string, string>): unknown {
  if (typeof value === 'string') return value.split('\n').map((line, i) => substituteLine(line, vars, new Set(), i + 1, false)).join('\n');
  if (Array.isArray(value)) return value.map((v) => substituteStrings(v, vars));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, substituteStrings(v, vars)]));
  return value;
}

/** Names left as written: a set of them, or a test. */
type Keep = ReadonlySet<string> | ((name: string) => boolean);

/**
 * A Woodpecker matrix job's own values expanded in every string of its steps and services, as
 * Woodpecker expands them in the file's text for each entry; other `${...}` were expanded
 * before (or written `$${...}` for the shell) and stay. Positions (`at`) are not text.
 */
export function expandAxes<T>(value: T, axes: Record<string, string>): T {
  const only = (name: string) => !Object.hasOwn(axes, name);
  const walk = (v: unknown, key?: string): unknown => {
    if (key === 'at' || key === 'dependsOnAt') return v;
    if (typeof v === 'string') return v.includes('${') ? v.split('\n').map((line, i) => substituteLine(line, axes, only, i + 1, false)).join('\n') : v;
    if (Array.isArray(v)) return v.map((x) => walk(x));
    if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, k)]));
    return v;
  };
  return walk(value) as T;
}

function substituteLine(line: string, vars: Record<string, string>, kept: Keep, lineNo: number, quote: boolean): string {
  let out = '';
  let i = 0;
  while (i < line.length) {
    const at = line.indexOf('$', i);
    if (at < 0) break;
    out += line.slice(i, at);
    if (line.startsWith('$${', at)) {
      out += '${';
      i = at + 3;
      continue;
    }
    if (line[at + 1] !== '{') {
      out += '$';
      i = at + 1;
      continue;
    }
    const end = closingBrace(line, at + 2);
    if (end < 0) throw new SubstitutionError(lineNo, at + 1, `\${ is not closed on this line; write $\${ for a literal \${`);
    const expr = line.slice(at + 2, end);
    const name = NAME.exec(expr)?.[0] ?? '';
    if (typeof kept === 'function' ? kept(name) : kept.has(name)) {
      out += line.slice(at, end + 1);
      i = end + 1;
      continue;
    }
    const value = expand(expr, vars, lineNo, at + 1);
    // A value of several lines is quoted, as Drone and Woodpecker do, so the YAML stays whole.
    out += quote && value.includes('\n') ? JSON.stringify(value) : value;
    i = end + 1;
  }
  return out + line.slice(i);
}

function closingBrace(line: string, from: number): number {
  let depth = 1;
  for (let j = from; j < line.length; j++) {
    if (line[j] === '{') depth++;
    else if (line[j] === '}' && --depth === 0) return j;
  }
  return -1;
}

function expand(expr: string, vars: Record<string, string>, line: number, column: number): string {
  const name = NAME.exec(expr)?.[0];
  if (!name) throw new SubstitutionError(line, column, `\${${expr}} does not start with a variable name; write $\${${expr}} if it is the shell's`);
  const set = Object.hasOwn(vars, name);
  const value = vars[name] ?? '';
  const op = expr.slice(name.length);
  if (op === '') return value;
  const sub = /^:(-?\d+)(?::(\d+))?$/.exec(op);
  if (sub) {
    const start = Number(sub[1]);
    const from = start < 0 ? Math.max(0, value.length + start) : start;
    return sub[2] === undefined ? value.slice(from) : value.slice(from, from + Number(sub[2]));
  }
  if (op === '^') return value.charAt(0).toUpperCase() + value.slice(1);
  if (op === '^^') return value.toUpperCase();
  if (op === ',') return value.charAt(0).toLowerCase() + value.slice(1);
  if (op === ',,') return value.toLowerCase();
  const dflt = /^(:?)([-=+])(.*)$/s.exec(op);
  if (dflt) {
    const empty = dflt[1] ? value === '' : !set;
    return dflt[2] === '+' ? (empty ? '' : dflt[3]!) : empty ? dflt[3]! : value;
  }
  const trim = /^(##?|%%?)(.*)$/s.exec(op);
  if (trim) return trimmed(value, trim[1]!, trim[2]!);
  const replace = /^\/([/#%]?)((?:\\.|[^/])*)(?:\/(.*))?$/s.exec(op);
  if (replace) return replaced(value, replace[1]!, unescape(replace[2]!), unescape(replace[3] ?? ''));
  throw new SubstitutionError(line, column, `\${${expr}}: "${op}" is not an operation Drone or Woodpecker expand; write $\${${expr}} to leave it to the shell`);
}

const unescape = (s: string) => s.replace(/\\(.)/g, '$1');

/** A shell pattern (`*`, `?`) as a regular expression, run on RE2 (it may come from anyone's file). */
function patternOf(glob: string): Regex {
  return compileRegex(`(?s)^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`, DEFAULT_PIPELINE_LIMITS);
}

/** `#`/`##` take the shortest/longest matching prefix off, `%`/`%%` the shortest/longest suffix. */
function trimmed(value: string, op: string, glob: string): string {
  const whole = patternOf(glob);
  const lengths = [...Array(value.length + 1).keys()];
  if (op.length === 2) lengths.reverse();
  for (const n of lengths) {
    if (op.startsWith('#') && whole.test(value.slice(0, n))) return value.slice(n);
    if (op.startsWith('%') && whole.test(value.slice(value.length - n))) return value.slice(0, value.length - n);
  }
  return value;
}

function replaced(value: string, anchor: string, from: string, to: string): string {
  if (from === '') return value;
  if (anchor === '#') return value.startsWith(from) ? to + value.slice(from.length) : value;
  if (anchor === '%') return value.endsWith(from) ? value.slice(0, -from.length) + to : value;
  return anchor === '/' ? value.split(from).join(to) : value.replace(from, to);
}
