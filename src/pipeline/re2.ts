import { RE2JS, RE2JSException } from 're2js';
import { NestorError } from '../errors.ts';
import type { PipelineLimits } from './limits.ts';

/**
 * Regular expressions from pipeline files run on RE2 (re2js), never on JavaScript's RegExp: a
 * backtracking engine takes exponential time on patterns like `^(a+)+$`, on the thread that
 * serves every request. RE2 matches in time linear in the input, and GitLab evaluates `rules`
 * and `only`/`except` patterns on RE2 too, so the same patterns mean the same here.
 */

export interface Regex {
  /** Whether the pattern matches anywhere in `input` (as GitLab's `=~` does). */
  test(input: string): boolean;
  /** Whether the pattern matches the whole of `input`. */
  testExact(input: string): boolean;
}

/**
 * A pattern RE2 cannot run, or one over a limit. The pipeline readers catch it and report it
 * where the pattern is written (a problem, or PipelineLimitError), so it reaches a user in
 * their words; its code and hint are for any other caller.
 */
export class RegexError extends NestorError {
  readonly limit?: { name: 'regexLength' | 'regexSize'; max: number; actual: number };
  constructor(message: string, limit?: RegexError['limit']) {
    super('NESTOR_REGEX_INVALID', message, `Write the pattern in RE2 syntax: ${RE2_SYNTAX}.`);
    if (limit) this.limit = limit;
  }
}

/** The flags GitLab takes after `/pattern/`, written into the pattern as RE2's `(?flags)`. */
export const GITLAB_FLAGS = 'imsU';

const cache = new Map<string, Regex>();
const CACHE_SIZE = 1000;

/** Compiles an RE2 pattern (RE2 syntax: https://github.com/google/re2/wiki/Syntax). */
export function compileRegex(pattern: string, limits: Pick<PipelineLimits, 'regexLength' | 'regexSize'>, display = `/${pattern}/`): Regex {
  if (pattern.length > limits.regexLength) {
    throw new RegexError(`the pattern is ${pattern.length} characters long`, { name: 'regexLength', max: limits.regexLength, actual: pattern.length });
  }
  const key = `${limits.regexSize}\0${pattern}`;
  const cached = cache.get(key);
  if (cached) return cached;
  let re: RE2JS;
  try {
    re = RE2JS.compile(pattern);
  } catch (err) {
    if (err instanceof RE2JSException) throw new RegexError(explain(pattern, display, err.message));
    throw err;
  }
  const size = re.programSize();
  if (size > limits.regexSize) throw new RegexError(`the pattern compiles to ${size} RE2 instructions`, { name: 'regexSize', max: limits.regexSize, actual: size });
  // Patterns repeat across jobs (templates, matrix entries): compiled once each.
  if (cache.size >= CACHE_SIZE) cache.clear();
  const compiled: Regex = { test: (s) => re.test(s), testExact: (s) => re.testExact(s) };
  cache.set(key, compiled);
  return compiled;
}

/**
 * GitLab's `/pattern/flags` (flags among i, m, s, U), as GitLab itself reads it: the flags go
 * in front as `(?flags)`. Undefined: the text is not written as `/…/`.
 */
export function slashPattern(text: string): { pattern: string; flags: string } | undefined {
  if (!text.startsWith('/')) return undefined;
  const end = text.lastIndexOf('/');
  if (end < 1) return undefined;
  return { pattern: text.slice(1, end), flags: text.slice(end + 1) };
}

export function compileSlashPattern(pattern: string, flags: string, limits: Pick<PipelineLimits, 'regexLength' | 'regexSize'>): Regex {
  const unknown = [...flags].filter((f) => !GITLAB_FLAGS.includes(f));
  if (unknown.length) throw new RegexError(`/${pattern}/${flags}: flag ${unknown.join(', ')} is not one GitLab takes (i: ignore case, m: ^ and $ at every line, s: . matches a newline, U: ungreedy)`);
  return compileRegex(flags ? `(?${[...new Set(flags)].join('')})${pattern}` : pattern, limits, `/${pattern}/${flags}`);
}

const RE2_SYNTAX = 'RE2 runs in linear time and has no backreferences, lookahead, lookbehind, atomic groups or possessive quantifiers (https://github.com/google/re2/wiki/Syntax)';

/** RE2's message, with what the construct is and what to write instead. */
function explain(pattern: string, display: string, message: string): string {
  const reason = message.replace(/^error parsing regexp: /, '');
  const hint = (() => {
    if (/\\[1-9]/.test(reason)) return 'a backreference: RE2 has none; match the repeated text again explicitly, or compare with == instead';
    if (/\(\?<?[=!]/.test(pattern) && /Perl syntax|named capture/.test(reason)) return 'lookahead or lookbehind: RE2 has none; use a second condition (&& or !~) instead';
    if (/\(\?>/.test(pattern)) return 'an atomic group: RE2 has none, and needs none (it never backtracks); write (?:…)';
    if (/repetition operator: `[*+?}]\+`/.test(reason)) return 'a possessive quantifier: RE2 has none, and needs none (it never backtracks); drop the second +';
    if (/\\Z/.test(reason)) return 'write \\z for the end of the text';
    return undefined;
  })();
  return `${display} is not a pattern RE2 can run (${reason})${hint ? `: ${hint}` : ''}. ${RE2_SYNTAX}`;
}

/**
 * A matcher for patterns of one syntax (shell globs, GitHub's filter patterns): each pattern
 * translated to RE2 once and kept (a thousand at most), matched against the whole value; a
 * pattern RE2 cannot read matches only itself. Files check a pattern's length where it is
 * written; its RE2 program is linear in that length, so none is limited here.
 */
export function patternMatcher(toRE2: (pattern: string) => string): (value: string, pattern: string) => boolean {
  const cache = new Map<string, Regex | undefined>();
  const unlimited = { regexLength: Infinity, regexSize: Infinity };
  return (value, pattern) => {
    let re = cache.get(pattern);
    if (!cache.has(pattern)) {
      try {
        re = compileRegex(toRE2(pattern), unlimited);
      } catch (err) {
        if (!(err instanceof RegexError)) throw err;
        re = undefined;
      }
      if (cache.size >= 1000) cache.clear();
      cache.set(pattern, re);
    }
    return re ? re.testExact(value) : value === pattern;
  };
}
