import { DEFAULT_PIPELINE_LIMITS } from './limits.ts';
import { compileRegex, RegexError } from './re2.ts';

/**
 * Woodpecker's `when: evaluate`, in the part of its expression language (expr-lang) that real
 * files use to gate steps on the run's variables: string, number, `true`/`false`/`nil`
 * literals and lists; variables by name, and `$env`, the map of them all (`"X" in $env`,
 * `$env.X`, `$env["X"]`); `==`, `!=`, `<`, `<=`, `>`, `>=`, `matches` (a regular expression,
 * run on RE2), `contains`, `startsWith`, `endsWith`, `in`, each also after `not`; `!`/`not`,
 * `&&`/`and`, `||`/`or`, `??`, `a ? b : c`, `+` and parentheses; the functions of FUNCTIONS,
 * and closures (`any(list, { # startsWith "a" })`, `#` the element). `${VAR}` and `$VAR`
 * inside the text are substituted first, as Woodpecker does. Anything else is refused when the
 * file is read, naming what, so the step is reported as not run here instead of run on a guess.
 */

type Token = { kind: 'str' | 'num' | 'ident' | 'op' | 'punct'; text: string };

export class ExpressionUnsupported extends Error {}

const TWO_CHAR_OPS = ['==', '!=', '<=', '>=', '&&', '||', '??'];

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    if (c === '"' || c === "'") {
      let out = '';
      let j = i + 1;
      for (; j < text.length && text[j] !== c; j++) {
        if (text[j] === '\\' && j + 1 < text.length) {
          const next = text[++j]!;
          out += next === 'n' ? '\n' : next === 't' ? '\t' : next;
        } else out += text[j];
      }
      if (j >= text.length) throw new ExpressionUnsupported('a string that is not closed');
      tokens.push({ kind: 'str', text: out });
      i = j + 1;
      continue;
    }
    const two = text.slice(i, i + 2);
    if (TWO_CHAR_OPS.includes(two)) {
      tokens.push({ kind: 'op', text: two });
      i += 2;
      continue;
    }
    if ('<>!+?:'.includes(c)) {
      tokens.push({ kind: 'op', text: c });
      i++;
      continue;
    }
    if ('()[],{}#.'.includes(c)) {
      tokens.push({ kind: 'punct', text: c });
      i++;
      continue;
    }
    const num = /^\d+(\.\d+)?/.exec(text.slice(i));
    if (num) {
      tokens.push({ kind: 'num', text: num[0] });
      i += num[0].length;
      continue;
    }
    const ident = /^\$?[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i));
    if (ident) {
      tokens.push({ kind: 'ident', text: ident[0] });
      i += ident[0].length;
      continue;
    }
    throw new ExpressionUnsupported(`"${c}"`);
  }
  return tokens;
}

type Node =
  | { kind: 'lit'; value: Value }
  | { kind: 'var'; name: string }
  | { kind: 'env' }
  | { kind: 'element' }
  | { kind: 'list'; items: Node[] }
  | { kind: 'not'; of: Node }
  | { kind: 'member'; of: Node; key: Node }
  | { kind: 'call'; name: string; args: Node[] }
  | { kind: 'closure'; body: Node }
  | { kind: 'cond'; test: Node; then: Node; else: Node }
  | { kind: 'bin'; op: string; left: Node; right: Node };

type Value = string | number | boolean | null | Value[] | { [key: string]: Value };

const COMPARISONS = ['==', '!=', '<', '<=', '>', '>=', 'matches', 'contains', 'startsWith', 'endsWith', 'in'];
const WORD_OPS = new Set(['matches', 'contains', 'startsWith', 'endsWith', 'in', 'and', 'or', 'not']);

function parse(tokens: Token[]): Node {
  let pos = 0;
  const peek = (ahead = 0) => tokens[pos + ahead];
  const isOp = (...ops: string[]) => {
    const t = peek();
    return t !== undefined && (t.kind === 'op' || t.kind === 'ident') && ops.includes(t.text);
  };
  const expect = (text: string) => {
    if (peek()?.text !== text) throw new ExpressionUnsupported(`"${peek()?.text ?? 'the end'}" where ${text} was expected`);
    pos++;
  };
  const conditional = (): Node => {
    const test = coalesce();
    if (!isOp('?')) return test;
    pos++;
    const then = conditional();
    expect(':');
    return { kind: 'cond', test, then, else: conditional() };
  };
  const coalesce = (): Node => {
    let left = or();
    while (isOp('??')) {
      pos++;
      left = { kind: 'bin', op: '??', left, right: or() };
    }
    return left;
  };
  const or = (): Node => {
    let left = and();
    while (isOp('||', 'or')) {
      pos++;
      left = { kind: 'bin', op: '||', left, right: and() };
    }
    return left;
  };
  const and = (): Node => {
    let left = not();
    while (isOp('&&', 'and')) {
      pos++;
      left = { kind: 'bin', op: '&&', left, right: not() };
    }
    return left;
  };
  const not = (): Node => {
    if (isOp('!', 'not')) {
      pos++;
      return { kind: 'not', of: not() };
    }
    return comparison();
  };
  const comparison = (): Node => {
    const left = sum();
    // `a not in b`, `a not matches b`: expr-lang's negated word operators.
    if (peek()?.text === 'not' && COMPARISONS.includes(peek(1)?.text ?? '')) {
      pos++;
      const op = tokens[pos++]!.text;
      return { kind: 'not', of: { kind: 'bin', op, left, right: sum() } };
    }
    if (isOp(...COMPARISONS)) {
      const op = tokens[pos++]!.text;
      return { kind: 'bin', op, left, right: sum() };
    }
    return left;
  };
  const sum = (): Node => {
    let left = postfix();
    while (isOp('+')) {
      pos++;
      left = { kind: 'bin', op: '+', left, right: postfix() };
    }
    return left;
  };
  const postfix = (): Node => {
    let node = primary();
    for (;;) {
      if (peek()?.text === '.' && peek(1)?.kind === 'ident') {
        node = { kind: 'member', of: node, key: { kind: 'lit', value: tokens[pos + 1]!.text } };
        pos += 2;
      } else if (peek()?.text === '[') {
        pos++;
        const key = conditional();
        expect(']');
        node = { kind: 'member', of: node, key };
      } else return node;
    }
  };
  const primary = (): Node => {
    const t = tokens[pos++];
    if (!t) throw new ExpressionUnsupported('an expression that ends too early');
    if (t.kind === 'str') return { kind: 'lit', value: t.text };
    if (t.kind === 'num') return { kind: 'lit', value: Number(t.text) };
    if (t.text === '(') {
      const inner = conditional();
      expect(')');
      return inner;
    }
    if (t.text === '#') return { kind: 'element' };
    if (t.text === '{') {
      const body = conditional();
      expect('}');
      return { kind: 'closure', body };
    }
    if (t.text === '[') {
      const items: Node[] = [];
      while (peek()?.text !== ']') {
        items.push(conditional());
        if (peek()?.text === ',') pos++;
        else break;
      }
      expect(']');
      return { kind: 'list', items };
    }
    if (t.kind === 'ident' && !WORD_OPS.has(t.text)) {
      if (t.text === '$env') return { kind: 'env' };
      if (t.text.startsWith('$')) throw new ExpressionUnsupported(`the variable ${t.text}`);
      if (peek()?.text === '(') {
        if (!(t.text in FUNCTIONS)) throw new ExpressionUnsupported(`the function ${t.text}()`);
        pos++;
        const args: Node[] = [];
        while (peek()?.text !== ')') {
          args.push(conditional());
          if (peek()?.text === ',') pos++;
          else break;
        }
        expect(')');
        return { kind: 'call', name: t.text, args };
      }
      if (t.text === 'true' || t.text === 'false') return { kind: 'lit', value: t.text === 'true' };
      if (t.text === 'nil') return { kind: 'lit', value: null };
      return { kind: 'var', name: t.text };
    }
    throw new ExpressionUnsupported(`"${t.text}"`);
  };
  const node = conditional();
  if (pos < tokens.length) throw new ExpressionUnsupported(`"${tokens[pos]!.text}"`);
  return node;
}

function truthy(v: Value): boolean {
  if (Array.isArray(v)) return v.length > 0;
  if (v !== null && typeof v === 'object') return Object.keys(v).length > 0;
  return v !== '' && v !== 0 && v !== false && v !== 'false' && v !== null;
}

const text = (v: Value): string => (v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));
const list = (v: Value, fn: string): Value[] => {
  if (Array.isArray(v)) return v;
  if (v === null || v === '') return [];
  throw new ExpressionUnsupported(`${fn}() of ${JSON.stringify(v)}, which is not a list`);
};

type Scope = { vars: Record<string, string>; element?: Value };
type Fn = (args: Node[], scope: Scope) => Value;

/** A closure's verdict on each element of a list: `any(list, { # == "a" })`. */
const overList = (name: string, pick: (items: Value[], test: (v: Value) => boolean) => Value): Fn => (args, scope) => {
  const [of, closure] = args;
  if (!of || closure?.kind !== 'closure') throw new ExpressionUnsupported(`${name}() without a list and a closure`);
  return pick(list(run(of, scope), name), (element) => truthy(run(closure.body, { ...scope, element })));
};
const onText = (name: string, fn: (s: string, ...rest: string[]) => Value): Fn => (args, scope) => {
  if (!args.length) throw new ExpressionUnsupported(`${name}() without an argument`);
  const [first, ...rest] = args.map((a) => text(run(a, scope)));
  return fn(first!, ...rest);
};

const FUNCTIONS: Record<string, Fn> = {
  len: (args, scope) => {
    const v = run(args[0] ?? { kind: 'lit', value: '' }, scope);
    return Array.isArray(v) ? v.length : v !== null && typeof v === 'object' ? Object.keys(v).length : text(v).length;
  },
  fromJSON: onText('fromJSON', (s) => {
    try {
      return JSON.parse(s) as Value;
    } catch {
      return null;
    }
  }),
  toJSON: (args, scope) => JSON.stringify(run(args[0] ?? { kind: 'lit', value: null }, scope)),
  any: overList('any', (items, t) => items.some(t)),
  all: overList('all', (items, t) => items.every(t)),
  none: overList('none', (items, t) => !items.some(t)),
  one: overList('one', (items, t) => items.filter(t).length === 1),
  count: overList('count', (items, t) => items.filter(t).length),
  filter: overList('filter', (items, t) => items.filter(t)),
  lower: onText('lower', (s) => s.toLowerCase()),
  upper: onText('upper', (s) => s.toUpperCase()),
  trim: onText('trim', (s) => s.trim()),
  trimPrefix: onText('trimPrefix', (s, p = '') => (s.startsWith(p) ? s.slice(p.length) : s)),
  trimSuffix: onText('trimSuffix', (s, p = '') => (p && s.endsWith(p) ? s.slice(0, -p.length) : s)),
  hasPrefix: onText('hasPrefix', (s, p = '') => s.startsWith(p)),
  hasSuffix: onText('hasSuffix', (s, p = '') => s.endsWith(p)),
  split: onText('split', (s, sep = '') => s.split(sep)),
  indexOf: onText('indexOf', (s, sub = '') => s.indexOf(sub)),
  replace: onText('replace', (s, from = '', to = '') => s.replaceAll(from, to)),
  join: (args, scope) => list(run(args[0] ?? { kind: 'lit', value: null }, scope), 'join').map(text).join(args[1] ? text(run(args[1], scope)) : ''),
  keys: (args, scope) => {
    const v = run(args[0] ?? { kind: 'lit', value: null }, scope);
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? Object.keys(v) : [];
  },
};

function run(node: Node, scope: Scope): Value {
  switch (node.kind) {
    case 'lit':
      return node.value;
    case 'var':
      return scope.vars[node.name] ?? '';
    case 'env':
      return { ...scope.vars };
    case 'element':
      if (scope.element === undefined) throw new ExpressionUnsupported('# outside a closure');
      return scope.element;
    case 'list':
      return node.items.map((n) => run(n, scope));
    case 'not':
      return !truthy(run(node.of, scope));
    case 'closure':
      throw new ExpressionUnsupported('a closure outside a function');
    case 'call':
      return FUNCTIONS[node.name]!(node.args, scope);
    case 'cond':
      return truthy(run(node.test, scope)) ? run(node.then, scope) : run(node.else, scope);
    case 'member': {
      const of = run(node.of, scope);
      const key = run(node.key, scope);
      if (Array.isArray(of)) return of[Number(key) < 0 ? of.length + Number(key) : Number(key)] ?? null;
      if (of !== null && typeof of === 'object') return of[text(key)] ?? null;
      return null;
    }
    case 'bin':
      return binary(node.op, node.left, node.right, scope);
  }
}

function binary(op: string, leftNode: Node, rightNode: Node, scope: Scope): Value {
  if (op === '&&') return truthy(run(leftNode, scope)) && truthy(run(rightNode, scope));
  if (op === '||') return truthy(run(leftNode, scope)) || truthy(run(rightNode, scope));
  const left = run(leftNode, scope);
  if (op === '??') return left === null ? run(rightNode, scope) : left;
  const right = run(rightNode, scope);
  const [l, r] = [text(left), text(right)];
  switch (op) {
    case '+':
      return typeof left === 'number' && typeof right === 'number' ? left + right : l + r;
    case '==':
      return typeof left === 'object' || typeof right === 'object' ? JSON.stringify(left) === JSON.stringify(right) : l === r;
    case '!=':
      return typeof left === 'object' || typeof right === 'object' ? JSON.stringify(left) !== JSON.stringify(right) : l !== r;
    case '<':
    case '<=':
    case '>':
    case '>=': {
      const [a, b] = typeof left === 'number' || typeof right === 'number' ? [Number(left), Number(right)] : [l, r];
      return op === '<' ? a < b : op === '<=' ? a <= b : op === '>' ? a > b : a >= b;
    }
    case 'matches':
      return compileRegex(r, DEFAULT_PIPELINE_LIMITS).test(l);
    case 'contains':
      return Array.isArray(left) ? left.map(text).includes(r) : l.includes(r);
    case 'startsWith':
      return l.startsWith(r);
    case 'endsWith':
      return l.endsWith(r);
    case 'in':
      if (Array.isArray(right)) return right.map(text).includes(l);
      if (right !== null && typeof right === 'object') return Object.hasOwn(right, l);
      return r.includes(l);
  }
  throw new ExpressionUnsupported(`the operator ${op}`);
}

/**
 * `${VAR}` and `$VAR` replaced by the run's variables, as Woodpecker does before evaluating;
 * `$env` is expr-lang's own map of them, left for the evaluator.
 */
function substituted(expression: string, vars: Record<string, string>): string {
  return expression.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (whole, a: string | undefined, b: string | undefined) =>
    b === 'env' ? whole : vars[(a ?? b)!] ?? '',
  );
}

/** Why the expression cannot be evaluated here, or undefined when it can. */
export function unsupportedIn(expression: string): string | undefined {
  try {
    const node = parse(tokenize(substituted(expression, {})));
    check(node, false);
    return undefined;
  } catch (err) {
    if (err instanceof ExpressionUnsupported) return err.message;
    if (err instanceof RegexError) return err.message;
    throw err;
  }
}

/** What the parser accepts but no run could evaluate: bad patterns, `#` or closures out of place. */
function check(node: Node, inClosure: boolean): void {
  switch (node.kind) {
    case 'bin':
      if (node.op === 'matches' && node.right.kind === 'lit') compileRegex(text(node.right.value), DEFAULT_PIPELINE_LIMITS);
      check(node.left, inClosure);
      check(node.right, inClosure);
      return;
    case 'element':
      if (!inClosure) throw new ExpressionUnsupported('# outside a closure');
      return;
    case 'closure':
      throw new ExpressionUnsupported('a closure outside a function');
    case 'call':
      node.args.forEach((a) => (a.kind === 'closure' ? check(a.body, true) : check(a, inClosure)));
      return;
    case 'not':
      return check(node.of, inClosure);
    case 'member':
      check(node.of, inClosure);
      return check(node.key, inClosure);
    case 'cond':
      [node.test, node.then, node.else].forEach((n) => check(n, inClosure));
      return;
    case 'list':
      node.items.forEach((n) => check(n, inClosure));
      return;
    default:
      return;
  }
}

/** Evaluates an expression that `unsupportedIn` accepted. */
export function evaluateExpression(expression: string, vars: Record<string, string>): boolean {
  return truthy(run(parse(tokenize(substituted(expression, vars))), { vars }));
}
