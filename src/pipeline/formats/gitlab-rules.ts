import { NestorError } from '../../errors.ts';
import { DEFAULT_PIPELINE_LIMITS, type PipelineLimits } from '../limits.ts';
import { compileSlashPattern, slashPattern, type Regex } from '../re2.ts';

/**
 * GitLab `rules: - if:` expressions, the simple forms people write: `$VAR`, `$VAR == "x"`,
 * `$VAR != "x"`, `$VAR =~ /re/flags`, `$VAR !~ /re/flags`, joined by `&&` and `||`, with
 * parentheses. Anything else is reported rather than guessed at. Patterns run on RE2, as in
 * GitLab (a pattern RE2 cannot run throws RegexError).
 */
export class RuleSyntaxError extends NestorError {
  constructor(message: string) {
    // Reported where the rule is written (formats/gitlab.ts), as a problem of the pipeline.
    super('NESTOR_RULE_INVALID', message, 'Write the rule in the forms GitLab documents: $VAR, $VAR == "x", $VAR =~ /re/, joined by && and ||.');
  }
}

/** A rule read once, to be evaluated against each job's variables. */
export type Rule = (vars: Record<string, string>) => boolean;
type Operand = (vars: Record<string, string>) => string | undefined;

type Token = { kind: 'var' | 'str' | 're' | 'op' | 'paren' | 'null'; value: string; re?: Regex };
type RuleLimits = Pick<PipelineLimits, 'regexLength' | 'regexSize' | 'depth'>;

function tokenize(expr: string, limits: RuleLimits): Token[] {
  const tokens: Token[] = [];
  const re = /\s*(?:(\$[A-Za-z_][A-Za-z0-9_]*)|"((?:[^"\\]|\\.)*)"|'([^']*)'|\/((?:[^/\\]|\\.)*)\/([A-Za-z]*)|(==|!=|=~|!~|&&|\|\|)|([()])|(null))/y;
  const rest = /\s*$/y;
  let pos = 0;
  while (pos < expr.length) {
    rest.lastIndex = pos;
    if (rest.test(expr)) break;
    re.lastIndex = pos;
    const m = re.exec(expr);
    if (!m) throw new RuleSyntaxError(`cannot read "${expr.slice(pos, pos + 40)}"`);
    pos = re.lastIndex;
    if (m[1]) tokens.push({ kind: 'var', value: m[1].slice(1) });
    else if (m[2] !== undefined) tokens.push({ kind: 'str', value: m[2].replace(/\\(.)/g, '$1') });
    else if (m[3] !== undefined) tokens.push({ kind: 'str', value: m[3] });
    else if (m[4] !== undefined) tokens.push({ kind: 're', value: `/${m[4]}/${m[5]}`, re: compileSlashPattern(m[4], m[5] ?? '', limits) });
    else if (m[6]) tokens.push({ kind: 'op', value: m[6] });
    else if (m[7]) tokens.push({ kind: 'paren', value: m[7] });
    else if (m[8]) tokens.push({ kind: 'null', value: '' });
  }
  return tokens;
}

/** Reads an expression; every pattern in it is compiled now, so all are checked, reached or not. */
export function parseRule(expr: string, limits: RuleLimits = DEFAULT_PIPELINE_LIMITS): Rule {
  const tokens = tokenize(expr, limits);
  let i = 0;
  let depth = 0;
  const peek = () => tokens[i];
  const operand = (t: Token | undefined): Operand => {
    if (!t) throw new RuleSyntaxError('expression ends early');
    if (t.kind === 'var') return (vars) => vars[t.value];
    if (t.kind === 'str') return () => t.value;
    if (t.kind === 'null') return () => undefined;
    throw new RuleSyntaxError(`unexpected ${t.value}`);
  };
  const comparison = (): Rule => {
    const t = tokens[i++];
    if (t?.kind === 'paren' && t.value === '(') {
      // Each parenthesis is a level of recursion here: bounded like any other nesting.
      if (++depth > limits.depth) throw new RuleSyntaxError(`parentheses nest deeper than ${limits.depth} (the pipeline limit depth)`);
      const r = or();
      depth--;
      if (tokens[i++]?.value !== ')') throw new RuleSyntaxError('missing )');
      return r;
    }
    const left = operand(t);
    const op = peek();
    if (op?.kind === 'op' && ['==', '!=', '=~', '!~'].includes(op.value)) {
      i++;
      const rt = tokens[i++];
      if (op.value === '=~' || op.value === '!~') {
        const negated = op.value === '!~';
        if (rt?.kind === 'var') {
          // A variable holding `/pattern/flags`, as GitLab allows: compiled (on RE2) when evaluated.
          const name = rt.value;
          return (vars) => {
            const written = slashPattern(vars[name] ?? '');
            if (!written) return negated;
            try {
              return compileSlashPattern(written.pattern, written.flags, limits).test(left(vars) ?? '') !== negated;
            } catch {
              return negated;
            }
          };
        }
        if (rt?.kind !== 're') throw new RuleSyntaxError(`${op.value} needs a /regex/`);
        const pattern = rt.re!;
        return (vars) => pattern.test(left(vars) ?? '') !== negated;
      }
      const right = operand(rt);
      const equal = (vars: Record<string, string>) => (left(vars) ?? null) === (right(vars) ?? null);
      return op.value === '==' ? equal : (vars) => !equal(vars);
    }
    return (vars) => {
      const value = left(vars);
      return value !== undefined && value !== '';
    };
  };
  // A list, not nested closures: a chain of 100,000 `&&` must not recurse 100,000 deep.
  const and = (): Rule => {
    const parts = [comparison()];
    while (peek()?.value === '&&') {
      i++;
      parts.push(comparison());
    }
    return parts.length === 1 ? parts[0]! : (vars) => parts.every((p) => p(vars));
  };
  const or = (): Rule => {
    const parts = [and()];
    while (peek()?.value === '||') {
      i++;
      parts.push(and());
    }
    return parts.length === 1 ? parts[0]! : (vars) => parts.some((p) => p(vars));
  };
  const rule = or();
  if (i < tokens.length) throw new RuleSyntaxError(`unexpected ${tokens[i]!.value}`);
  return rule;
}

export function evaluateRule(expr: string, vars: Record<string, string>, limits: RuleLimits = DEFAULT_PIPELINE_LIMITS): boolean {
  return parseRule(expr, limits)(vars);
}
