import { NestorError } from '../../errors.ts';
import { closest } from '../suggest.ts';

/**
 * GitHub Actions expressions (`${{ … }}`, and `if:` without them), as GitHub's reference
 * ("Evaluate expressions in workflows and actions") defines them and as GitHub's own evaluator
 * (actions/runner, DTExpressions2) behaves where the reference is silent:
 *
 * - literals: null, true, false, numbers in any JSON form plus 0x hex, NaN and Infinity, and
 *   'single-quoted' strings with '' for a quote;
 * - contexts read with `.name`, `['name']` and the `.*` / `[*]` object filter, names compared
 *   ignoring case;
 * - `!`, `<`, `<=`, `>`, `>=`, `==`, `!=`, `&&`, `||` in that order of precedence; && and ||
 *   answer one of their operands, not a boolean;
 * - loose comparison: mismatched types are compared as numbers (null 0, true 1, false 0,
 *   strings parsed, arrays and objects NaN), strings ignoring case, arrays and objects equal
 *   only when they are the same instance, and anything compared with NaN false;
 * - the functions contains, startsWith, endsWith, format, join, toJSON, fromJSON, hashFiles,
 *   case, success, always, cancelled and failure.
 *
 * An expression is read once (parseExpression), where a mistake is reported with its column,
 * and evaluated as often as needed.
 */

export type Value = null | boolean | number | string | Value[] | { [key: string]: Value };

export class ExpressionError extends NestorError {
  /** Where in the expression the problem is, 1-based, when it is at one place. */
  readonly line: number | undefined;
  readonly column: number | undefined;

  /** `at` is the offset in `expression` (0-based) of what is wrong, when it is known. */
  constructor(expression: string, why: string, at?: number) {
    const where = at === undefined ? undefined : lineAndColumn(expression, at);
    const place = where === undefined ? '' : where.line > 1 ? ` at line ${where.line}, column ${where.column}` : ` at column ${where.column}`;
    super('NESTOR_EXPRESSION_INVALID', `The expression ${JSON.stringify(expression)} cannot be read${place}: ${why}`, "Check it against GitHub's expression syntax: 'single-quoted strings', ==, !=, &&, ||, !, contexts such as github.ref, and the functions contains(), startsWith(), format() and the like.");
    this.line = where?.line;
    this.column = where?.column;
  }
}

function lineAndColumn(text: string, at: number): { line: number; column: number } {
  const before = text.slice(0, at).split('\n');
  return { line: before.length, column: before[before.length - 1]!.length + 1 };
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

/** A mistake found while reading or evaluating, with where it is; parseExpression names the expression. */
class Problem extends Error {
  readonly at: number | undefined;
  constructor(why: string, at?: number) {
    super(why);
    this.at = at;
  }
}

// GitHub's own limits (ExpressionConstants.MaxLength and MaxDepth); the depth also keeps the
// recursive reader off the end of the stack.
const MAX_LENGTH = 21000;
const MAX_DEPTH = 50;

// ─── Reading: characters to tokens ────────────────────────────────────────────────────────────

type Token =
  | { kind: 'number'; text: string; at: number; value: number }
  | { kind: 'string'; text: string; at: number; value: string }
  | { kind: 'word' | 'op' | 'punct'; text: string; at: number };

/** Where a name or a number ends, as GitHub's lexer has it. */
function isBoundary(c: string): boolean {
  return '()[],.!><=&|'.includes(c) || /\s/.test(c);
}

function tokenize(src: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < src.length) {
    const c = src[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const t = readToken(src, i, out[out.length - 1]);
    out.push(t);
    i = t.at + t.text.length;
  }
  return out;
}

function readToken(src: string, i: number, last: Token | undefined): Token {
  const c = src[i]!;
  if ('()[],*'.includes(c)) return { kind: 'punct', text: c, at: i };
  if (c === "'") return readString(src, i);
  if ('!<>=&|'.includes(c)) return readOperator(src, i);
  // A dot where a value may start is a number (.5); after a value it dereferences.
  if (c === '.') return startsValue(last) ? readNumber(src, i) : { kind: 'punct', text: '.', at: i };
  if (c === '-' || c === '+' || (c >= '0' && c <= '9')) return readNumber(src, i);
  return readWord(src, i);
}

function startsValue(last: Token | undefined): boolean {
  return last === undefined || last.kind === 'op' || (last.kind === 'punct' && '([,'.includes(last.text));
}

function readString(src: string, start: number): Token {
  let value = '';
  let i = start + 1;
  for (;;) {
    if (i >= src.length) throw new Problem('the string that starts here is not closed (a quote inside a string is written twice: \'it\'\'s\')', start);
    if (src[i] === "'") {
      if (src[i + 1] !== "'") break;
      i++;
    }
    value += src[i++];
  }
  return { kind: 'string', text: src.slice(start, i + 1), at: start, value };
}

function readOperator(src: string, i: number): Token {
  const two = src.slice(i, i + 2);
  if (['==', '!=', '<=', '>=', '&&', '||'].includes(two)) return { kind: 'op', text: two, at: i };
  const c = src[i]!;
  if ('!<>'.includes(c)) return { kind: 'op', text: c, at: i };
  const meant = c === '=' ? 'equality is written ==' : c === '&' ? '"and" is written &&' : '"or" is written ||';
  throw new Problem(`"${c}" is not an operator: ${meant}`, i);
}

/** Up to the next boundary, dots included, then parsed as GitHub parses numbers: 1.2.3 or 12ab is one bad number, not two tokens. */
function readNumber(src: string, start: number): Token {
  let i = start + 1;
  while (i < src.length && (!isBoundary(src[i]!) || src[i] === '.')) i++;
  const text = src.slice(start, i);
  const value = parseNumber(text);
  if (Number.isNaN(value)) throw new Problem(`"${text}" is not a number`, start);
  return { kind: 'number', text, at: start, value };
}

const NAME = /^[A-Za-z_][A-Za-z0-9_-]*$/;

function readWord(src: string, start: number): Token {
  let i = start + 1;
  while (i < src.length && !isBoundary(src[i]!)) i++;
  const text = src.slice(start, i);
  if (NAME.test(text)) return { kind: 'word', text, at: start };
  if (text.includes('"')) throw new Problem(`${text} is not a value: strings are written in single quotes ('like this')`, start);
  throw new Problem(`"${text}" is not a name, a number or an operator`, start);
}

// ─── Reading: tokens to a tree ────────────────────────────────────────────────────────────────

type Node =
  | { k: 'lit'; v: Value }
  | { k: 'ctx'; name: string; at: number }
  | { k: 'index'; of: Node; key: Node | '*' }
  | { k: 'not'; of: Node }
  | { k: 'and' | 'or'; args: Node[] }
  | { k: 'cmp'; op: string; l: Node; r: Node }
  | { k: 'call'; name: string; args: Node[]; at: number };

interface FunctionInfo {
  /** As the reference spells it, for messages. */
  name: string;
  min: number;
  max: number;
}

// GitHub's argument counts (ExpressionConstants.AddFunction and the runner's extra functions).
const FUNCTIONS: FunctionInfo[] = [
  { name: 'contains', min: 2, max: 2 },
  { name: 'startsWith', min: 2, max: 2 },
  { name: 'endsWith', min: 2, max: 2 },
  { name: 'format', min: 1, max: 255 },
  { name: 'join', min: 1, max: 2 },
  { name: 'toJSON', min: 1, max: 1 },
  { name: 'fromJSON', min: 1, max: 1 },
  { name: 'hashFiles', min: 1, max: 255 },
  { name: 'case', min: 3, max: Infinity },
  { name: 'success', min: 0, max: 0 },
  { name: 'always', min: 0, max: 0 },
  { name: 'cancelled', min: 0, max: 0 },
  { name: 'failure', min: 0, max: 0 },
];
const FUNCTION_BY_NAME = new Map(FUNCTIONS.map((f) => [f.name.toLowerCase(), f]));
const STATUS_FUNCTIONS = new Set(['success', 'always', 'cancelled', 'failure']);

/** A recursive-descent reader, one method per precedence level, lowest first. */
class Parser {
  readonly #tokens: Token[];
  #p = 0;
  #depth = 0;

  constructor(tokens: Token[]) {
    this.#tokens = tokens;
  }

  parse(): Node {
    if (this.#tokens.length === 0) throw new Problem('the expression is empty', 0);
    const node = this.#or();
    const left = this.#peek();
    if (left) throw this.#unexpected(left);
    return node;
  }

  #peek(): Token | undefined {
    return this.#tokens[this.#p];
  }

  #at(text: string): boolean {
    const t = this.#peek();
    return t !== undefined && (t.kind === 'op' || t.kind === 'punct') && t.text === text;
  }

  #take(): Token | undefined {
    return this.#tokens[this.#p++];
  }

  #last(): Token {
    return this.#tokens[this.#p - 1] ?? this.#tokens[0]!;
  }

  #or(): Node {
    return this.#logical('||', 'or', () => this.#and());
  }

  #and(): Node {
    return this.#logical('&&', 'and', () => this.#equality());
  }

  /** && and || keep all their operands in one node: they are evaluated left to right until one decides. */
  #logical(op: string, k: 'and' | 'or', next: () => Node): Node {
    const first = next();
    if (!this.#at(op)) return first;
    const args = [first];
    while (this.#at(op)) {
      this.#take();
      args.push(next());
    }
    return { k, args };
  }

  #equality(): Node {
    return this.#binary(['==', '!='], () => this.#comparison());
  }

  #comparison(): Node {
    return this.#binary(['<', '<=', '>', '>='], () => this.#unary());
  }

  #binary(ops: string[], next: () => Node): Node {
    let l = next();
    while (ops.some((op) => this.#at(op))) {
      const op = this.#take()!.text;
      l = { k: 'cmp', op, l, r: next() };
    }
    return l;
  }

  #unary(): Node {
    if (!this.#at('!')) return this.#postfix();
    this.#take();
    return this.#deeper(() => ({ k: 'not', of: this.#unary() }));
  }

  #deeper<T>(read: () => T): T {
    if (++this.#depth > MAX_DEPTH) throw new Problem(`it nests deeper than ${MAX_DEPTH} levels`, this.#last().at);
    try {
      return read();
    } finally {
      this.#depth--;
    }
  }

  /** `.name`, `.*`, `[index]` and `[*]` after a context, a call or parentheses; not after a literal, as in GitHub. */
  #postfix(): Node {
    const first = this.#peek();
    let node = this.#primary();
    for (;;) {
      const t = this.#peek();
      if (!t || !(this.#at('.') || this.#at('['))) return node;
      if (node.k === 'lit' && first?.kind !== 'punct') throw new Problem(`"${t.text}" cannot follow the literal ${first?.text ?? ''}`, t.at);
      this.#take();
      node = t.text === '.' ? { k: 'index', of: node, key: this.#property(t) } : { k: 'index', of: node, key: this.#index(t) };
    }
  }

  #property(dot: Token): Node | '*' {
    const t = this.#take();
    if (t?.kind === 'word') return { k: 'lit', v: t.text };
    if (t?.kind === 'punct' && t.text === '*') return '*';
    throw new Problem(`a property name or * was expected after "."${t ? `, not "${t.text}"` : ''}`, (t ?? dot).at);
  }

  #index(open: Token): Node | '*' {
    if (this.#at('*')) {
      this.#take();
      this.#close(']', open);
      return '*';
    }
    const key = this.#deeper(() => this.#or());
    this.#close(']', open);
    return key;
  }

  /** The `)` or `]` that closes `open`; `wanted` is what else could have come instead (in a call, another argument). */
  #close(text: string, open: Token, opened = `"${open.text}"`, wanted = `"${text}" was expected to close ${opened}`): void {
    if (this.#at(text)) {
      this.#take();
      return;
    }
    const t = this.#peek();
    if (!t) throw new Problem(`${opened} is not closed: "${text}" is missing at the end`, open.at);
    throw new Problem(`"${t.text}" cannot follow "${this.#last().text}": ${wanted}`, t.at);
  }

  #primary(): Node {
    const t = this.#take();
    if (!t) throw this.#endsEarly();
    if (t.kind === 'number' || t.kind === 'string') return { k: 'lit', v: t.value };
    if (t.kind === 'word') return this.#word(t);
    if (t.kind === 'punct' && t.text === '(') {
      const inner = this.#deeper(() => this.#or());
      this.#close(')', t);
      return inner;
    }
    this.#p--;
    throw this.#unexpected(t);
  }

  /** Keywords are case-sensitive, as GitHub's: `True` is a context name, not a boolean. */
  #word(t: Token): Node {
    switch (t.text) {
      case 'null':
        return { k: 'lit', v: null };
      case 'true':
        return { k: 'lit', v: true };
      case 'false':
        return { k: 'lit', v: false };
      case 'NaN':
        return { k: 'lit', v: NaN };
      case 'Infinity':
        return { k: 'lit', v: Infinity };
    }
    return this.#at('(') ? this.#call(t) : { k: 'ctx', name: t.text, at: t.at };
  }

  #call(name: Token): Node {
    const info = FUNCTION_BY_NAME.get(name.text.toLowerCase());
    if (!info) throw new Problem(unknownFunction(name.text), name.at);
    const open = this.#take()!;
    const opened = `${name.text}(`;
    if (!this.#peek()) throw new Problem(`${opened} is not closed: ")" is missing at the end`, open.at);
    const args: Node[] = [];
    while (!this.#at(')')) {
      args.push(this.#deeper(() => this.#or()));
      if (!this.#at(',')) break;
      this.#take();
    }
    this.#close(')', open, opened, `"," and another argument, or ")" to close ${opened}, was expected`);
    checkArity(info, args.length, name.at);
    return { k: 'call', name: info.name.toLowerCase(), args, at: name.at };
  }

  #endsEarly(): Problem {
    const last = this.#tokens[this.#tokens.length - 1]!;
    const wanted = last.text === ',' ? 'another argument' : last.text === '[' ? 'an index' : 'a value';
    return new Problem(`it ends after "${last.text}", where ${wanted} was expected`, last.at);
  }

  /** `t` where it cannot be: said in terms of what came before it. */
  #unexpected(t: Token): Problem {
    const before = this.#tokens[this.#p - 1];
    const why = !before
      ? `"${t.text}" cannot start an expression`
      : before.kind === 'op' || (before.kind === 'punct' && ['(', '[', ','].includes(before.text))
        ? `a value was expected after "${before.text}", not "${t.text}"`
        : t.text === ')' || t.text === ']'
          ? `"${t.text}" closes nothing`
          : t.text === ','
            ? '"," separates the arguments of a function call, and this is not in one'
            : `"${t.text}" cannot follow "${before.text}": an operator such as == or && was expected between them`;
    return new Problem(why, t.at);
  }
}

function unknownFunction(name: string): string {
  const names = FUNCTIONS.map((f) => f.name);
  const near = closest(name, names);
  if (near) return `there is no function ${name}() (did you mean "${near}"?)`;
  return `there is no function ${name}(); the functions are ${names.join(', ')}`;
}

function checkArity(f: FunctionInfo, count: number, at: number): void {
  if (f.name === 'case' && count >= 3 && count % 2 === 0) {
    throw new Problem(`case() takes an odd number of arguments (conditions and values in pairs, then a default), not ${count}`, at);
  }
  if (count >= f.min && count <= f.max) return;
  throw new Problem(`${f.name}() takes ${arityText(f)}, not ${count}`, at);
}

function arityText(f: FunctionInfo): string {
  const plural = (n: number) => `${n} argument${n === 1 ? '' : 's'}`;
  if (f.max === 0) return 'no arguments';
  if (f.min === f.max) return plural(f.min);
  if (f.max === Infinity || f.max >= 255) return `at least ${plural(f.min)}`;
  return `${f.min} or ${plural(f.max)}`;
}

// ─── Values: GitHub's coercions ───────────────────────────────────────────────────────────────

type Kind = 'null' | 'boolean' | 'number' | 'string' | 'array' | 'object';

function kindOf(v: Value): Kind {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  return typeof v as 'boolean' | 'number' | 'string' | 'object';
}

function isPrimitive(v: Value): v is null | boolean | number | string {
  return v === null || typeof v !== 'object';
}

export function truthy(v: Value): boolean {
  if (v === null || v === false || v === 0 || v === '' || (typeof v === 'number' && Number.isNaN(v))) return false;
  return true;
}

/** A value as a number, as GitHub casts it for comparison: null 0, booleans 1 and 0, strings parsed, arrays and objects NaN. */
function toNumber(v: Value): number {
  if (v === null) return 0;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'number') return v;
  if (typeof v === 'string') return parseNumber(v);
  return NaN;
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/**
 * A string as a number, as GitHub's ParseNumber reads it (for literals and for comparison): trimmed,
 * empty is 0, a decimal with optional sign and exponent, 0x hex and 0o octal as 32-bit integers,
 * Infinity and -Infinity; anything else NaN. JavaScript's Number() differs (it takes 0b and 0X).
 */
export function parseNumber(text: string): number {
  const s = text.trim();
  if (s === '') return 0;
  if (DECIMAL.test(s)) return Number(s);
  if (/^0x[0-9a-fA-F]+$/.test(s)) return int32(parseInt(s.slice(2), 16));
  if (/^0o[0-7]+$/.test(s)) return int32(parseInt(s.slice(2), 8));
  if (s === 'Infinity') return Infinity;
  if (s === '-Infinity') return -Infinity;
  return NaN;
}

/** .NET's Int32 parse of hex and octal: 32 bits read as signed (0xFFFFFFFF is -1), wider is no number. */
function int32(n: number): number {
  return n > 0xffffffff ? NaN : n | 0;
}

/**
 * A number as GitHub prints it: .NET's "G15" format, that is at most 15 significant digits,
 * in exponent form (1E+15, 1E-05) from 10^15 up and from 10^-5 down; NaN, Infinity and -Infinity.
 */
export function numberText(n: number): string {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return 'Infinity';
  if (n === -Infinity) return '-Infinity';
  if (n === 0) return '0';
  const [mantissa, exp] = n.toExponential(14).split('e') as [string, string];
  const e = Number(exp);
  const sign = n < 0 ? '-' : '';
  const digits = mantissa.replace(/[-.]/g, '').replace(/0+$/, '');
  if (e <= -5 || e >= 15) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${sign}${m}E${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
  }
  if (e < 0) return `${sign}0.${'0'.repeat(-e - 1)}${digits}`;
  const whole = digits.slice(0, e + 1).padEnd(e + 1, '0');
  const fraction = digits.slice(e + 1);
  return sign + whole + (fraction ? `.${fraction}` : '');
}

/** A value as GitHub's functions cast it to a string: arrays and objects are not converted, they read 'Array' and 'Object'. */
function castString(v: Value): string {
  if (v === null) return '';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return numberText(v);
  if (typeof v === 'string') return v;
  return Array.isArray(v) ? 'Array' : 'Object';
}

/** A value as it is written into a string by `${{ }}`: as castString, but arrays and objects as toJSON() writes them. */
export function toText(v: Value): string {
  return isPrimitive(v) ? castString(v) : toJSONText(v);
}

/** toJSON(): pretty JSON with two-space indents, numbers as GitHub prints them. */
export function toJSONText(v: Value, depth = 0): string {
  if (isPrimitive(v)) return v === null ? 'null' : typeof v === 'string' ? JSON.stringify(v) : castString(v);
  const inner = '  '.repeat(depth + 1);
  const outer = '  '.repeat(depth);
  const items = Array.isArray(v) ? v.map((x) => toJSONText(x ?? null, depth + 1)) : Object.entries(v).flatMap(([key, x]) => (x === undefined ? [] : [`${JSON.stringify(key)}: ${toJSONText(x, depth + 1)}`]));
  const [open, close] = Array.isArray(v) ? ['[', ']'] : ['{', '}'];
  return items.length === 0 ? open + close : `${open}\n${items.map((i) => inner + i).join(',\n')}\n${outer}${close}`;
}

/**
 * Upper case one UTF-16 unit at a time, as .NET's OrdinalIgnoreCase compares: 'ß' stays (it
 * would grow to 'SS'), and the dotless 'ı' stays (it is not an 'I').
 */
function upper(s: string): string {
  if (/^[\x00-\x7f]*$/.test(s)) return s.toUpperCase();
  let out = '';
  for (const c of s) {
    const u = c.toUpperCase();
    out += u.length === c.length && c !== 'ı' ? u : c;
  }
  return out;
}

/** GitHub's CoerceTypes: number with string compare as numbers; a boolean or null becomes a number and is compared again. */
function coerce(l: Value, r: Value): [Value, Value] {
  const lk = kindOf(l);
  const rk = kindOf(r);
  if (lk === rk) return [l, r];
  if (lk === 'number' && rk === 'string') return [l, toNumber(r)];
  if (lk === 'string' && rk === 'number') return [toNumber(l), r];
  if (lk === 'boolean' || lk === 'null') return coerce(toNumber(l), r);
  if (rk === 'boolean' || rk === 'null') return coerce(l, toNumber(r));
  return [l, r];
}

function equals(a: Value, b: Value): boolean {
  const [l, r] = coerce(a, b);
  if (kindOf(l) !== kindOf(r)) return false;
  if (typeof l === 'string') return upper(l) === upper(r as string);
  // Numbers (NaN equals nothing), booleans, null, and arrays and objects by identity.
  return l === r;
}

/** -1, 0 or 1 when the two can be ordered; undefined when not (NaN, mismatched kinds, arrays, objects). */
function order(a: Value, b: Value): number | undefined {
  const [l, r] = coerce(a, b);
  if (kindOf(l) !== kindOf(r)) return undefined;
  if (typeof l === 'number' && typeof r === 'number') return Number.isNaN(l) || Number.isNaN(r) ? undefined : l < r ? -1 : l > r ? 1 : 0;
  if (typeof l === 'string' && typeof r === 'string') {
    const x = upper(l);
    const y = upper(r);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (typeof l === 'boolean' && typeof r === 'boolean') return Number(l) - Number(r);
  return undefined;
}

/** <= and >= are GitHub's "equal or less/greater", so the same array is <= itself while no order exists between arrays. */
function compare(op: string, l: Value, r: Value): boolean {
  switch (op) {
    case '==':
      return equals(l, r);
    case '!=':
      return !equals(l, r);
    case '<':
      return order(l, r) === -1;
    case '>':
      return order(l, r) === 1;
    case '<=':
      return equals(l, r) || order(l, r) === -1;
    default:
      return equals(l, r) || order(l, r) === 1;
  }
}

// ─── Evaluation ───────────────────────────────────────────────────────────────────────────────

/**
 * The arrays an object filter (`.*`) made. A further `.name` or `[i]` applies to each of their
 * items, not to the array itself, as in GitHub: `commits.*.author.name` is every author's name,
 * while `commits.name`, on a plain array, is null.
 */
const filtered = new WeakSet<Value[]>();

function filteredArray(items: Value[]): Value[] {
  filtered.add(items);
  return items;
}

function run(n: Node, scope: ExpressionScope): Value {
  switch (n.k) {
    case 'lit':
      return n.v;
    case 'ctx':
      return context(n.name, n.at, scope);
    case 'index':
      return index(run(n.of, scope), n.key === '*' ? '*' : run(n.key, scope));
    case 'not':
      return !truthy(run(n.of, scope));
    case 'and':
    case 'or':
      return logical(n.k, n.args, scope);
    case 'cmp':
      return compare(n.op, run(n.l, scope), run(n.r, scope));
    case 'call':
      return n.name === 'case' ? caseOf(n.args, n.at, scope) : call(n.name, n.args.map((a) => run(a, scope)), n.at, scope);
  }
}

function context(name: string, at: number, scope: ExpressionScope): Value {
  const names = Object.keys(scope.contexts);
  const found = names.find((c) => c.toLowerCase() === name.toLowerCase());
  if (found === undefined) {
    const near = closest(name, names);
    throw new Problem(`there is no context ${name}${near ? ` (did you mean "${near}"?)` : names.length ? `; the contexts here are ${names.join(', ')}` : ''}`, at);
  }
  return scope.contexts[found] ?? null;
}

/** && answers the first falsy operand or the last; || the first truthy or the last. */
function logical(k: 'and' | 'or', args: Node[], scope: ExpressionScope): Value {
  let v: Value = null;
  for (const a of args) {
    v = run(a, scope);
    if (truthy(v) === (k === 'or')) return v;
  }
  return v;
}

function index(of: Value, key: Value | '*'): Value {
  if (isPrimitive(of)) return key === '*' ? filteredArray([]) : null;
  if (Array.isArray(of) && filtered.has(of)) return filteredArray(of.flatMap((item) => (isPrimitive(item) ? [] : select(item, key))));
  if (key === '*') return filteredArray(Array.isArray(of) ? [...of] : ownValues(of));
  return select(of, key)[0] ?? null;
}

/** What `key` selects in one array or object: nothing, one value, or every value for `*`. */
function select(of: Value[] | { [key: string]: Value }, key: Value | '*'): Value[] {
  if (key === '*') return Array.isArray(of) ? of : ownValues(of);
  if (Array.isArray(of)) {
    const i = arrayIndex(key);
    return i !== undefined && i < of.length ? [of[i] ?? null] : [];
  }
  if (!isPrimitive(key)) return [];
  const v = property(of, castString(key));
  return v === undefined ? [] : [v];
}

function ownValues(o: { [key: string]: Value }): Value[] {
  return Object.values(o).filter((v) => v !== undefined);
}

/** GitHub's integer index: the key as a number, floored; negative, NaN or past 2^31 is none. */
function arrayIndex(key: Value): number | undefined {
  const n = toNumber(key);
  if (Number.isNaN(n) || n < 0) return undefined;
  const i = Math.floor(n);
  return i > 2147483647 ? undefined : i;
}

/** A property by name, ignoring case as GitHub's dictionaries do; the exact spelling wins when both exist. */
function property(o: { [key: string]: Value }, name: string): Value | undefined {
  if (Object.hasOwn(o, name)) return o[name];
  const lower = name.toLowerCase();
  const found = Object.keys(o).find((k) => k.toLowerCase() === lower);
  return found === undefined ? undefined : o[found];
}

/** case(pred1, val1, …, default): only the conditions up to the first true one are evaluated, and each must be a boolean. */
function caseOf(args: Node[], at: number, scope: ExpressionScope): Value {
  for (let i = 0; i + 1 < args.length; i += 2) {
    const condition = run(args[i]!, scope);
    if (typeof condition !== 'boolean') throw new Problem(`case(): condition ${i / 2 + 1} is ${describe(condition)}, not true or false (write a comparison, such as x == 'y')`, at);
    if (condition) return run(args[i + 1]!, scope);
  }
  return run(args[args.length - 1]!, scope);
}

function describe(v: Value): string {
  const k = kindOf(v);
  return k === 'null' ? 'null' : k === 'array' || k === 'object' ? `an ${k}` : `a ${k}`;
}

function call(name: string, args: Value[], at: number, scope: ExpressionScope): Value {
  const status = scope.status ?? { failed: false, cancelled: false };
  const arg = (i: number): Value => args[i] ?? null;
  switch (name) {
    case 'contains':
      return contains(arg(0), arg(1));
    case 'startswith':
      return bothPrimitive(arg(0), arg(1), (s, t) => s.startsWith(t));
    case 'endswith':
      return bothPrimitive(arg(0), arg(1), (s, t) => s.endsWith(t));
    case 'format':
      return format(castString(arg(0)), args.slice(1), at);
    case 'join':
      return join(arg(0), args.length > 1 ? arg(1) : ',');
    case 'tojson':
      return toJSONText(arg(0));
    case 'fromjson':
      return fromJSON(castString(arg(0)), at);
    case 'hashfiles':
      if (!scope.hashFiles) throw new Problem('hashFiles() is evaluated where the workspace is, in the job', at);
      return scope.hashFiles(args.map(castString));
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

/** A string search ignoring case, between two primitives cast to strings; false when either is an array or object. */
function bothPrimitive(a: Value, b: Value, test: (s: string, t: string) => boolean): boolean {
  return isPrimitive(a) && isPrimitive(b) && test(upper(castString(a)), upper(castString(b)));
}

/** contains(): a substring of a string, or an item of an array by loose equality (so contains(list, '2') finds 2). */
function contains(search: Value, item: Value): boolean {
  if (Array.isArray(search)) return search.some((x) => equals(item, x ?? null));
  return bothPrimitive(search, item, (s, t) => s.includes(t));
}

/** join(): an array's items cast to strings; a primitive as it is; a separator that is not a primitive is the default ','. */
function join(list: Value, separator: Value): string {
  if (Array.isArray(list)) return list.map((x) => castString(x ?? null)).join(isPrimitive(separator) ? castString(separator) : ',');
  return isPrimitive(list) ? castString(list) : '';
}

/** format(): {N} is argument N after the format string; {{ and }} are braces; any other brace is an error, as in GitHub. */
function format(fmt: string, values: Value[], at: number): string {
  let out = '';
  let i = 0;
  while (i < fmt.length) {
    const open = fmt.indexOf('{', i);
    const close = fmt.indexOf('}', i);
    if (open < 0 && close < 0) return out + fmt.slice(i);
    if (open >= 0 && (close < 0 || open < close)) {
      out += fmt.slice(i, open);
      if (fmt[open + 1] === '{') {
        out += '{';
        i = open + 2;
        continue;
      }
      const m = /^\{(\d+)\}/.exec(fmt.slice(open));
      const n = m ? Number(m[1]) : NaN;
      if (!m || n > 255) throw new Problem(`format(): ${JSON.stringify(fmt)} has "{" that is neither {N} nor {{ (write {{ for a brace)`, at);
      if (n >= values.length) throw new Problem(`format(): ${JSON.stringify(fmt)} refers to {${n}}, but ${values.length === 0 ? 'no value follows it' : `only ${values.length} value${values.length === 1 ? ' follows' : 's follow'} it`} ({0} is the first)`, at);
      out += castString(values[n] ?? null);
      i = open + m[0].length;
      continue;
    }
    out += fmt.slice(i, close);
    if (fmt[close + 1] !== '}') throw new Problem(`format(): ${JSON.stringify(fmt)} has a "}" that closes nothing (write }} for a brace)`, at);
    out += '}';
    i = close + 2;
  }
  return out;
}

function fromJSON(text: string, at: number): Value {
  if (text.trim() === '') throw new Problem('fromJSON() was given an empty string, which is not JSON', at);
  try {
    return JSON.parse(text) as Value;
  } catch (err) {
    const shown = text.length > 60 ? `${text.slice(0, 60)}…` : text;
    throw new Problem(`fromJSON() cannot read ${JSON.stringify(shown)} as JSON: ${(err as Error).message}`, at);
  }
}

// ─── The public entry points ──────────────────────────────────────────────────────────────────

function compile(text: string): Node {
  try {
    if (text.length > MAX_LENGTH) throw new Problem(`it is longer than ${MAX_LENGTH} characters, GitHub's limit`);
    return new Parser(tokenize(text)).parse();
  } catch (err) {
    throw asExpressionError(text, err);
  }
}

function asExpressionError(text: string, err: unknown): unknown {
  return err instanceof Problem ? new ExpressionError(text, err.message, err.at) : err;
}

function evaluate(text: string, node: Node, scope: ExpressionScope): Value {
  try {
    return run(node, scope);
  } catch (err) {
    throw asExpressionError(text, err);
  }
}

/** Reads an expression (the text inside `${{ }}`, or an `if:`) once; evaluate it as often as needed. */
export function parseExpression(text: string): (scope: ExpressionScope) => Value {
  const node = compile(text);
  return (scope) => evaluate(text, node, scope);
}

/** Whether the expression calls success(), failure(), always() or cancelled() anywhere (not inside a string). */
function callsStatus(n: Node): boolean {
  switch (n.k) {
    case 'call':
      return STATUS_FUNCTIONS.has(n.name) || n.args.some(callsStatus);
    case 'index':
      return callsStatus(n.of) || (n.key !== '*' && callsStatus(n.key));
    case 'not':
      return callsStatus(n.of);
    case 'and':
    case 'or':
      return n.args.some(callsStatus);
    case 'cmp':
      return callsStatus(n.l) || callsStatus(n.r);
    default:
      return false;
  }
}

/** `if:` as GitHub reads it: `${{ }}` optional; without a status function, `success() && (…)` is meant; empty is success(). */
export function evaluateIf(text: string, scope: ExpressionScope): boolean {
  const inner = /^\s*\$\{\{([\s\S]*)\}\}\s*$/.exec(text)?.[1] ?? text;
  const success = (): boolean => call('success', [], 0, scope) === true;
  if (inner.trim() === '') return success();
  const node = compile(inner);
  if (!callsStatus(node) && !success()) return false;
  return truthy(evaluate(inner, node, scope));
}

/** A string with `${{ }}` parts, each replaced by its value as text (toText). A `}}` inside a quoted string does not end a part. */
export function interpolate(text: string, scope: ExpressionScope): string {
  let out = '';
  let at = 0;
  for (let start = text.indexOf('${{'); start >= 0; start = text.indexOf('${{', at)) {
    const end = partEnd(text, start + 3);
    if (end < 0) throw new ExpressionError(text.slice(start, start + 40), '`${{` is not closed by `}}`');
    out += text.slice(at, start) + toText(parseExpression(text.slice(start + 3, end))(scope));
    at = end + 2;
  }
  return out + text.slice(at);
}

/** Where the `}}` that ends a part is, quotes in mind; -1 when there is none. */
function partEnd(text: string, from: number): number {
  let quoted = false;
  for (let j = from; j < text.length - 1; j++) {
    if (text[j] === "'") quoted = !quoted;
    else if (!quoted && text[j] === '}' && text[j + 1] === '}') return j;
  }
  return -1;
}
