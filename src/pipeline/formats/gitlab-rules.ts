/**
 * GitLab `rules: - if:` expressions, the simple forms people write: `$VAR`, `$VAR == "x"`,
 * `$VAR != "x"`, `$VAR =~ /re/`, `$VAR !~ /re/`, joined by `&&` and `||`, with parentheses.
 * Anything else is reported rather than guessed at.
 */
export class RuleSyntaxError extends Error {}

type Token = { kind: 'var' | 'str' | 're' | 'op' | 'paren' | 'null'; value: string };

function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  const re = /\s*(?:(\$[A-Za-z_][A-Za-z0-9_]*)|"((?:[^"\\]|\\.)*)"|'([^']*)'|\/((?:[^/\\]|\\.)*)\/([a-z]*)|(==|!=|=~|!~|&&|\|\|)|([()])|(null))/y;
  let pos = 0;
  while (pos < expr.length) {
    if (/^\s*$/.test(expr.slice(pos))) break;
    re.lastIndex = pos;
    const m = re.exec(expr);
    if (!m) throw new RuleSyntaxError(`cannot read "${expr.slice(pos)}"`);
    pos = re.lastIndex;
    if (m[1]) tokens.push({ kind: 'var', value: m[1].slice(1) });
    else if (m[2] !== undefined) tokens.push({ kind: 'str', value: m[2].replace(/\\(.)/g, '$1') });
    else if (m[3] !== undefined) tokens.push({ kind: 'str', value: m[3] });
    else if (m[4] !== undefined) tokens.push({ kind: 're', value: `${m[5] ?? ''}/${m[4]}` });
    else if (m[6]) tokens.push({ kind: 'op', value: m[6] });
    else if (m[7]) tokens.push({ kind: 'paren', value: m[7] });
    else if (m[8]) tokens.push({ kind: 'null', value: '' });
  }
  return tokens;
}

export function evaluateRule(expr: string, vars: Record<string, string>): boolean {
  const tokens = tokenize(expr);
  let i = 0;
  const peek = () => tokens[i];
  const value = (t: Token | undefined): string | undefined => {
    if (!t) throw new RuleSyntaxError('expression ends early');
    if (t.kind === 'var') return vars[t.value];
    if (t.kind === 'str') return t.value;
    if (t.kind === 'null') return undefined;
    throw new RuleSyntaxError(`unexpected ${t.value}`);
  };
  const comparison = (): boolean => {
    const t = tokens[i++];
    if (t?.kind === 'paren' && t.value === '(') {
      const r = or();
      if (tokens[i++]?.value !== ')') throw new RuleSyntaxError('missing )');
      return r;
    }
    const left = value(t);
    const op = peek();
    if (op?.kind === 'op' && ['==', '!=', '=~', '!~'].includes(op.value)) {
      i++;
      const rt = tokens[i++];
      if (op.value === '=~' || op.value === '!~') {
        if (rt?.kind !== 're') throw new RuleSyntaxError(`${op.value} needs a /regex/`);
        const slash = rt.value.indexOf('/');
        const matched = new RegExp(rt.value.slice(slash + 1), rt.value.slice(0, slash)).test(left ?? '');
        return op.value === '=~' ? matched : !matched;
      }
      const right = value(rt);
      return op.value === '==' ? (left ?? null) === (right ?? null) : (left ?? null) !== (right ?? null);
    }
    return left !== undefined && left !== '';
  };
  const and = (): boolean => {
    let r = comparison();
    while (peek()?.value === '&&') {
      i++;
      r = comparison() && r;
    }
    return r;
  };
  const or = (): boolean => {
    let r = and();
    while (peek()?.value === '||') {
      i++;
      r = and() || r;
    }
    return r;
  };
  const result = or();
  if (i < tokens.length) throw new RuleSyntaxError(`unexpected ${tokens[i]!.value}`);
  return result;
}
