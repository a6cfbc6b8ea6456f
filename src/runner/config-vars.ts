import type { PathSegment } from '../pipeline/yaml-source.ts';

/** A `${…}` that cannot be substituted, at the path of the string it is written in. */
export interface SubstitutionProblem {
  path: PathSegment[];
  message: string;
}

// `$${…}` (an escape), or `${…}`; the body is checked below so that a malformed one is named.
const REFERENCE = /\$(\$?)\{([^}]*)\}/g;
const BODY = /^([A-Za-z_][A-Za-z0-9_]*)(?::-([\s\S]*))?$/;

/**
 * `${VAR}` and `${VAR:-default}` in one string, from `env`, as Compose and shells read them
 * (the default stands in for a variable unset or empty); `$${VAR}` is the text `${VAR}`.
 * Answers the string, or why it cannot be made: a variable unset with no default, a `${…}`
 * that names no variable, or one left open.
 */
export function substitute(text: string, env: NodeJS.ProcessEnv): { value: string } | { problem: string } {
  let problem: string | undefined;
  const value = text.replace(REFERENCE, (whole, escape: string, body: string) => {
    if (escape) return whole.slice(1);
    const m = BODY.exec(body);
    if (!m) {
      problem ??= `"${whole}" is not a variable reference: write \${NAME} or \${NAME:-default} (or $\${…} for the text itself)`;
      return whole;
    }
    const [, name, fallback] = m as unknown as [string, string, string | undefined];
    const set = env[name];
    if (fallback !== undefined) return set ? set : fallback;
    if (set === undefined) {
      problem ??= `environment variable ${name} is not set (write \${${name}:-default} to give a default)`;
      return whole;
    }
    return set;
  });
  // What is left after the references: an unclosed `${` would otherwise reach the runner as is.
  if (!problem && /(^|[^$])\$\{/.test(text.replace(REFERENCE, ''))) problem = 'an unclosed "${": end the reference with "}"';
  return problem ? { problem } : { value };
}

/** Every string of a parsed file (keys stay as written), substituted; the problems with their paths. */
export function substituteAll(value: unknown, env: NodeJS.ProcessEnv, path: PathSegment[] = [], problems: SubstitutionProblem[] = []): { value: unknown; problems: SubstitutionProblem[] } {
  if (typeof value === 'string') {
    const r = substitute(value, env);
    if ('problem' in r) problems.push({ path, message: r.problem });
    return { value: 'value' in r ? r.value : value, problems };
  }
  if (Array.isArray(value)) return { value: value.map((v, i) => substituteAll(v, env, [...path, i], problems).value), problems };
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) out[k] = substituteAll(v, env, [...path, k], problems).value;
    return { value: out, problems };
  }
  return { value, problems };
}
