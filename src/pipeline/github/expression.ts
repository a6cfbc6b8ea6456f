import { NestorError } from '../../errors.ts';

/**
 * GitHub Actions expressions (`${{ … }}`, and `if:` without them), as GitHub's own
 * reference defines them: literals (null, booleans, numbers, 'strings' with '' for a quote),
 * contexts with `.name`, `['name']` and `.*` object filters, `!`, `<`, `<=`, `>`, `>=`, `==`,
 * `!=`, `&&`, `||` (which answer one of their operands, not a boolean), parentheses, and the
 * functions contains, startsWith, endsWith, format, join, toJSON, fromJSON, hashFiles,
 * success, always, cancelled and failure. Comparison is loose as GitHub's: mismatched types
 * are compared as numbers, strings case-insensitively.
 */

export type Value = null | boolean | number | string | Value[] | { [key: string]: Value };

export class ExpressionError extends NestorError {
  constructor(expression: string, why: string) {
    super('NESTOR_EXPRESSION_INVALID', `The expression ${JSON.stringify(expression)} cannot be read: ${why}`, "Check it against GitHub's expression syntax: 'single-quoted strings', ==, !=, &&, ||, !, contexts such as github.ref, and the functions contains(), startsWith(), format() and the like.");
  }
}

/** What an expression may read and call besides its literals. */
export interface ExpressionScope {
  /** The contexts by name: github, env, vars, secrets, matrix, needs, steps, inputs, job, runner, strategy. */
  contexts: Record<string, Value>;
  /** How the job is going, for success(), failure(), cancelled() and always(). */
  status?: { failed: boolean; cancelled: boolean };
  /** hashFiles(patterns…): the runner's, which can read the workspace. */
  hashFiles?: (patterns: string[]) => string;
}

type Token =
  | { t: 'num'; v: number }
  | { t: 'str'; v: string }
  | { t: 'word'; v: string }
  | { t: 'op'; v: string };

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
    } else if (c === "'") {
      let s = '';
      i++;
      for (;;) {
        if (i >= src.length) throw new Error('a string is not closed');
        if (src[i] === "'") {
          if (src[i + 1] === "'") {
            s += "'";
            i += 2;
            continue;
          }
          i++;
          break;
        }
        s += src[i++];
      }
      out.push({ t: 'str', v: s });
    } else if (/[0-9]/.test(c) || (c === '-' && /[0-9]/.test(src[i + 1] ?? '') && !isValue(out[out.length - 1]))) {
      const m = /^-?(0x[0-9a-fA-F]+|[0-9]*\.?[0-9]+(e[+-]?[0-9]+)?)/.exec(src.slice(i))!;
      out.push({ t: 'num', v: Number(m[0]) });
      i += m[0].length;
    } else if (/[A-Za-z_]/.test(c)) {
      const m = /^[A-Za-z_][A-Za-z0-9_-]*/.exec(src.slice(i))!;
      out.push({ t: 'word', v: m[0] });
      i += m[0].length;
    } else {
      const two = src.slice(i, i + 2);
      if (['==', '!=', '<=', '>=', '&&', '||'].includes(two)) {
        out.push({ t: 'op', v: two });
        i += 2;
      } else if ('!<>()[].,*'.includes(c)) {
        out.push({ t: 'op', v: c });
        i++;
      } else throw new Error(`"${c}" is not part of the expression language`);
    }
  }
  return out;
}

function isValue(t: Token | undefined): boolean {
  return t !== undefined && (t.t === 'num' || t.t === 'str' || t.t === 'word' || (t.t === 'op' && (t.v === ')' || t.v === ']')));
}

type Node =
  | { k: 'lit'; v: Value }
  | { k: 'ctx'; name: string }
  | { k: 'prop'; of: Node; key: Node | string }
  | { k: 'star'; of: Node }
  | { k: 'not'; of: Node }
  | { k: 'bin'; op: string; l: Node; r: Node }
  | { k: 'call'; name: string; args: Node[] };

const FUNCTIONS = new Set(['contains', 'startswith', 'endswith', 'format', 'join', 'tojson', 'fromjson', 'hashfiles', 'success', 'always', 'cancelled', 'failure']);

function parse(tokens: Token[]): Node {
  let p = 0;
  const at = (v: string) => tokens[p]?.t === 'op' && tokens[p]!.v === v;
  const eat = (v: string) => {
    if (!at(v)) throw new Error(`"${v}" was expected ${tokens[p] ? `before "${String(tokens[p]!.v)}"` : 'at the end'}`);
    p++;
  };
  const binary = (ops: string[], next: () => Node) => (): Node => {
    let l = next();
    while (tokens[p]?.t === 'op' && ops.includes(tokens[p]!.v as string)) {
      const op = tokens[p++]!.v as string;
      l = { k: 'bin', op, l, r: next() };
    }
    return l;
  };
  const unary = (): Node => {
    if (at('!')) {
      p++;
      return { k: 'not', of: unary() };
    }
    return postfix();
  };
  const postfix = (): Node => {
    let n = primary();
    for (;;) {
      if (at('.')) {
        p++;
        if (at('*')) {
          p++;
          n = { k: 'star', of: n };
          continue;
        }
        const t = tokens[p++];
        if (t?.t !== 'word') throw new Error('a property name was expected after "."');
        n = { k: 'prop', of: n, key: t.v };
      } else if (at('[')) {
        p++;
        if (at('*')) {
          p++;
          eat(']');
          n = { k: 'star', of: n };
          continue;
        }
        const key = or();
        eat(']');
        n = { k: 'prop', of: n, key };
      } else return n;
    }
  };
  const primary = (): Node => {
    const t = tokens[p++];
    if (!t) throw new Error('the expression ends too early');
    if (t.t === 'num' || t.t === 'str') return { k: 'lit', v: t.v };
    if (t.t === 'op' && t.v === '(') {
      const inner = or();
      eat(')');
      return inner;
    }
    if (t.t === 'word') {
      if (t.v === 'true' || t.v === 'false') return { k: 'lit', v: t.v === 'true' };
      if (t.v === 'null') return { k: 'lit', v: null };
      if (at('(')) {
        const name = t.v.toLowerCase();
        if (!FUNCTIONS.has(name)) throw new Error(`there is no function ${t.v}()`);
        p++;
        const args: Node[] = [];
        while (!at(')')) {
          args.push(or());
          if (at(',')) p++;
          else break;
        }
        eat(')');
        return { k: 'call', name, args };
      }
      return { k: 'ctx', name: t.v };
    }
    throw new Error(`"${String(t.v)}" cannot start a value`);
  };
  const comparison = binary(['<', '<=', '>', '>='], unary);
  const equality = binary(['==', '!='], comparison);
  const and = binary(['&&'], equality);
  const or = binary(['||'], and);
  const node = or();
  if (p < tokens.length) throw new Error(`"${String(tokens[p]!.v)}" is left over`);
  return node;
}

export function truthy(v: Value): boolean {
  if (v === null || v === false || v === 0 || v === '' || (typeof v === 'number' && Number.isNaN(v))) return false;
  return true;
}

function toNumber(v: Value): number {
  if (v === null) return 0;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return v.trim() === '' ? 0 : Number(v.trim());
  return NaN;
}

/** GitHub's loose comparison: same types compare as they are (strings ignoring case), others as numbers. */
function compare(a: Value, b: Value): number {
  if (typeof a === 'string' && typeof b === 'string') {
    const x = a.toUpperCase();
    const y = b.toUpperCase();
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) return a === b ? 0 : NaN;
  const x = toNumber(a);
  const y = toNumber(b);
  return Number.isNaN(x) || Number.isNaN(y) ? NaN : x - y;
}

export function toText(v: Value): string {
  if (v === null) return '';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') return v;
  return JSON.stringify(v, null, 2);
}

function member(of: Value, key: Value): Value {
  if (Array.isArray(of)) {
    if (typeof key === 'number') return of[key] ?? null;
    return of.map((x) => member(x, key));
  }
  if (of && typeof of === 'object') {
    const name = toText(key);
    const exact = (of as Record<string, Value>)[name];
    if (exact !== undefined) return exact;
    const found = Object.keys(of).find((k) => k.toLowerCase() === name.toLowerCase());
    return found === undefined ? null : (of as Record<string, Value>)[found]!;
  }
  return null;
}

function run(n: Node, scope: ExpressionScope): Value {
  switch (n.k) {
    case 'lit':
      return n.v;
    case 'ctx': {
      const name = Object.keys(scope.contexts).find((c) => c.toLowerCase() === n.name.toLowerCase());
      if (name === undefined) throw new Error(`there is no context ${n.name}`);
      return scope.contexts[name]!;
    }
    case 'prop': {
      const of = run(n.of, scope);
      return member(of, typeof n.key === 'string' ? n.key : run(n.key, scope));
    }
    case 'star': {
      const of = run(n.of, scope);
      return Array.isArray(of) ? of : of && typeof of === 'object' ? Object.values(of) : [];
    }
    case 'not':
      return !truthy(run(n.of, scope));
    case 'bin': {
      if (n.op === '&&') {
        const l = run(n.l, scope);
        return truthy(l) ? run(n.r, scope) : l;
      }
      if (n.op === '||') {
        const l = run(n.l, scope);
        return truthy(l) ? l : run(n.r, scope);
      }
      const c = compare(run(n.l, scope), run(n.r, scope));
      switch (n.op) {
        case '==':
          return c === 0;
        case '!=':
          return !(c === 0);
        case '<':
          return c < 0;
        case '<=':
          return c <= 0;
        case '>':
          return c > 0;
        default:
          return c >= 0;
      }
    }
    case 'call':
      return call(n.name, n.args.map((a) => run(a, scope)), scope);
  }
}

function call(name: string, args: Value[], scope: ExpressionScope): Value {
  const status = scope.status ?? { failed: false, cancelled: false };
  switch (name) {
    case 'contains': {
      const [hay, needle] = args;
      if (Array.isArray(hay)) return hay.some((x) => compare(x, needle ?? null) === 0);
      return toText(hay ?? null).toLowerCase().includes(toText(needle ?? null).toLowerCase());
    }
    case 'startswith':
      return toText(args[0] ?? null).toLowerCase().startsWith(toText(args[1] ?? null).toLowerCase());
    case 'endswith':
      return toText(args[0] ?? null).toLowerCase().endsWith(toText(args[1] ?? null).toLowerCase());
    case 'format': {
      const [fmt, ...rest] = args;
      return toText(fmt ?? null).replace(/\{\{|\}\}|\{(\d+)\}/g, (m, i: string | undefined) => (m === '{{' ? '{' : m === '}}' ? '}' : toText(rest[Number(i)] ?? null)));
    }
    case 'join': {
      const [list, sep] = args;
      return Array.isArray(list) ? list.map(toText).join(sep === undefined ? ',' : toText(sep)) : toText(list ?? null);
    }
    case 'tojson':
      return JSON.stringify(args[0] ?? null, null, 2);
    case 'fromjson':
      return JSON.parse(toText(args[0] ?? null)) as Value;
    case 'hashfiles':
      if (!scope.hashFiles) throw new Error('hashFiles() is evaluated where the workspace is, in the job');
      return scope.hashFiles(args.map(toText));
    case 'success':
      return !status.failed && !status.cancelled;
    case 'failure':
      return status.failed;
    case 'cancelled':
      return status.cancelled;
    default:
      return true; // always()
  }
}

/** Reads an expression (the text inside `${{ }}`, or an `if:`) once; evaluate it as often as needed. */
export function parseExpression(text: string): (scope: ExpressionScope) => Value {
  let node: Node;
  try {
    node = parse(tokenize(text));
  } catch (err) {
    throw new ExpressionError(text, (err as Error).message);
  }
  return (scope) => {
    try {
      return run(node, scope);
    } catch (err) {
      throw new ExpressionError(text, (err as Error).message);
    }
  };
}

/** `if:` as GitHub reads it: `${{ }}` optional; without a status function, success() is implied. */
export function evaluateIf(text: string, scope: ExpressionScope): boolean {
  const inner = /^\s*\$\{\{([\s\S]*)\}\}\s*$/.exec(text)?.[1] ?? text;
  const expr = /\b(success|failure|always|cancelled)\s*\(/i.test(inner) ? inner : `success() && (${inner})`;
  return truthy(parseExpression(expr)(scope));
}

/** A string with `${{ }}` parts, each replaced by its value as text. */
export function interpolate(text: string, scope: ExpressionScope): string {
  return text.replace(/\$\{\{([\s\S]*?)\}\}/g, (_m, inner: string) => toText(parseExpression(inner)(scope)));
}
