import { DEFAULT_PIPELINE_LIMITS } from './limits.ts';
import { compileRegex, RegexError } from './re2.ts';

/**
 * Woodpecker's `when: evaluate`, the part of its expression language (expr-lang) that real
 * files use to gate steps on the run's variables: string and number literals, variables by
 * name, `==`, `!=`, `<`, `<=`, `>`, `>=`, `matches` (a regular expression, run on RE2),
 * `contains`, `startsWith`, `endsWith`, `in [..]`, `!`/`not`, `&&`/`and`, `||`/`or`, and
 * parentheses; `${VAR}` inside the text is substituted first, as Woodpecker does. Anything else
 * (functions, closures, `$env`) is refused when the file is read, naming what, so the step is
 * reported as not run here instead of run on a guess.
 */

type Token = { kind: 'str' | 'num' | 'ident' | 'op' | 'punct'; text: string };

export class ExpressionUnsupported extends Error {}

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
    if (['==', '!=', '<=', '>=', '&&', '||'].includes(two)) {
      tokens.push({ kind: 'op', text: two });
      i += 2;
      continue;
    }
    if ('<>!'.includes(c)) {
      tokens.push({ kind: 'op', text: c });
      i++;
      continue;
    }
    if ('()[],{}#'.includes(c)) {
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
    const ident = /^[A-Za-z_][A-Za-z0-9_]*/.exec(text.slice(i));
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
  | { kind: 'lit'; value: string | number }
  | { kind: 'var'; name: string }
  | { kind: 'list'; items: Node[] }
  | { kind: 'not'; of: Node }
  | { kind: 'bin'; op: string; left: Node; right: Node };

const WORD_OPS = new Set(['matches', 'contains', 'startsWith', 'endsWith', 'in', 'and', 'or', 'not']);

function parse(tokens: Token[]): Node {
  let pos = 0;
  const peek = () => tokens[pos];
  const isOp = (...ops: string[]) => {
    const t = peek();
    return t !== undefined && (t.kind === 'op' || t.kind === 'ident') && ops.includes(t.text);
  };
  const expect = (text: string) => {
    if (peek()?.text !== text) throw new ExpressionUnsupported(`"${peek()?.text ?? 'the end'}" where ${text} was expected`);
    pos++;
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
    const left = primary();
    if (isOp('==', '!=', '<', '<=', '>', '>=', 'matches', 'contains', 'startsWith', 'endsWith', 'in')) {
      const op = tokens[pos++]!.text;
      return { kind: 'bin', op, left, right: primary() };
    }
    return left;
  };
  const primary = (): Node => {
    const t = tokens[pos++];
    if (!t) throw new ExpressionUnsupported('an expression that ends too early');
    if (t.kind === 'str') return { kind: 'lit', value: t.text };
    if (t.kind === 'num') return { kind: 'lit', value: Number(t.text) };
    if (t.text === '(') {
      const inner = or();
      expect(')');
      return inner;
    }
    if (t.text === '[') {
      const items: Node[] = [];
      while (peek()?.text !== ']') {
        items.push(or());
        if (peek()?.text === ',') pos++;
        else break;
      }
      expect(']');
      return { kind: 'list', items };
    }
    if (t.kind === 'ident' && !WORD_OPS.has(t.text)) {
      if (peek()?.text === '(') throw new ExpressionUnsupported(`the function ${t.text}()`);
      if (t.text === 'true' || t.text === 'false') return { kind: 'lit', value: t.text };
      return { kind: 'var', name: t.text };
    }
    throw new ExpressionUnsupported(`"${t.text}"`);
  };
  const node = or();
  if (pos < tokens.length) throw new ExpressionUnsupported(`"${tokens[pos]!.text}"`);
  return node;
}

type Value = string | number | boolean | Value[];

function truthy(v: Value): boolean {
  return Array.isArray(v) ? v.length > 0 : v !== '' && v !== 0 && v !== false && v !== 'false';
}

function run(node: Node, vars: Record<string, string>): Value {
  switch (node.kind) {
    case 'lit':
      return node.value;
    case 'var':
      return vars[node.name] ?? '';
    case 'list':
      return node.items.map((n) => run(n, vars));
    case 'not':
      return !truthy(run(node.of, vars));
    case 'bin': {
      if (node.op === '&&') return truthy(run(node.left, vars)) && truthy(run(node.right, vars));
      if (node.op === '||') return truthy(run(node.left, vars)) || truthy(run(node.right, vars));
      const left = run(node.left, vars);
      const right = run(node.right, vars);
      const l = String(left);
      const r = String(right);
      switch (node.op) {
        case '==':
          return l === r;
        case '!=':
          return l !== r;
        case '<':
        case '<=':
        case '>':
        case '>=': {
          const [a, b] = typeof left === 'number' || typeof right === 'number' ? [Number(left), Number(right)] : [l, r];
          return node.op === '<' ? a < b : node.op === '<=' ? a <= b : node.op === '>' ? a > b : a >= b;
        }
        case 'matches':
          return compileRegex(r, DEFAULT_PIPELINE_LIMITS).test(l);
        case 'contains':
          return Array.isArray(left) ? left.map(String).includes(r) : l.includes(r);
        case 'startsWith':
          return l.startsWith(r);
        case 'endsWith':
          return l.endsWith(r);
        case 'in':
          return Array.isArray(right) ? right.map(String).includes(l) : r.includes(l);
      }
    }
  }
  throw new ExpressionUnsupported('an operator');
}

/** `${VAR}` and `$VAR` replaced by the run's variables, as Woodpecker does before evaluating. */
function substituted(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_w, a: string | undefined, b: string | undefined) => vars[(a ?? b)!] ?? '');
}

/** Why the expression cannot be evaluated here, or undefined when it can. */
export function unsupportedIn(expression: string): string | undefined {
  try {
    // `$env` and other `$` names are variables substituted first, as in Woodpecker.
    const node = parse(tokenize(substituted(expression, {}).replace(/\$\w+/g, '""')));
    checkPatterns(node);
    return undefined;
  } catch (err) {
    if (err instanceof ExpressionUnsupported) return err.message;
    if (err instanceof RegexError) return err.message;
    throw err;
  }
}

function checkPatterns(node: Node): void {
  if (node.kind === 'bin') {
    if (node.op === 'matches' && node.right.kind === 'lit') compileRegex(String(node.right.value), DEFAULT_PIPELINE_LIMITS);
    checkPatterns(node.left);
    checkPatterns(node.right);
  } else if (node.kind === 'not') checkPatterns(node.of);
  else if (node.kind === 'list') node.items.forEach(checkPatterns);
}

/** Evaluates an expression that `unsupportedIn` accepted. */
export function evaluateExpression(expression: string, vars: Record<string, string>): boolean {
  return truthy(run(parse(tokenize(substituted(expression, vars))), vars));
}
