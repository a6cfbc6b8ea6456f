import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { FILE_NOT_FOUND, REMOTE_UNREACHABLE, type PipelineNotice, type PipelineProblem } from '../errors.ts';
import { globMatches } from '../glob.ts';
import { DEFAULT_INCLUDE_SOURCE, FetchError, fetchProjectFile, fetchRemote, type IncludeSource } from '../include-fetch.ts';
import { PipelineLimitError } from '../limits.ts';
import { YamlSource, type PathSegment } from '../yaml-source.ts';
import { deepMerge, isPlain } from './gitlab-extends.ts';
import { parseRule, RuleSyntaxError } from './gitlab-rules.ts';
import { RegexError } from '../re2.ts';

/**
 * GitLab's `include:`: the files it names are read and deep-merged in order, the including
 * file's own content over them, as GitLab does. `local` files (with `*` and `**` globs) come
 * from the repository; `project` and `remote` ones through the operator's IncludeSource;
 * `template` and `component` content lives on a GitLab server and is named in a notice.
 */

/** GitLab's own limit on the files one pipeline may include. */
export const MAX_INCLUDES = 150;
const TEMPLATE_URL = 'https://gitlab.com/gitlab-org/gitlab/-/raw/master/lib/gitlab/ci/templates';

export interface Included {
  /** The merged top level, `include` removed. */
  value: Record<string, unknown>;
  /** Every file read, the main one last: positions are looked up in the last that writes a path. */
  layers: YamlSource[];
  /** What could not be fetched from here, said in the notices: names missing may be there. */
  unreachable: string[];
}

/** Where a file was included from: the repository, or a project at a ref. */
type Origin = { kind: 'repo' } | { kind: 'project'; project: string; ref: string | undefined };

interface State {
  source: IncludeSource;
  vars: Record<string, string>;
  problems: PipelineProblem[];
  notices: PipelineNotice[];
  unreachable: string[];
  layers: YamlSource[];
  seen: Set<string>;
  count: number;
}

export function resolveIncludes(
  main: YamlSource,
  raw: Record<string, unknown>,
  includes: Partial<IncludeSource> | undefined,
  vars: Record<string, string>,
  problems: PipelineProblem[],
  notices: PipelineNotice[],
): Included {
  const state: State = { source: { ...DEFAULT_INCLUDE_SOURCE, ...includes }, vars, problems, notices, unreachable: [], layers: [], seen: new Set(), count: 0 };
  const value = expand(state, main, raw, { kind: 'repo' }, 0);
  state.layers.push(main);
  return { value, layers: state.layers, unreachable: state.unreachable };
}

/** A file's content with its includes merged under it. */
function expand(state: State, file: YamlSource, raw: Record<string, unknown>, origin: Origin, depth: number): Record<string, unknown> {
  const { include, ...own } = raw;
  if (include === undefined) return own;
  let merged: Record<string, unknown> = {};
  for (const [entry, at] of entriesOf(include)) {
    for (const child of read(state, file, entry, at, origin, depth)) merged = deepMerge(merged, child);
  }
  return deepMerge(merged, own);
}

function entriesOf(include: unknown): [unknown, PathSegment[]][] {
  return Array.isArray(include) ? include.map((e, i) => [e, ['include', i]]) : [[include, ['include']]];
}

const KEYS = new Set(['local', 'project', 'file', 'ref', 'remote', 'template', 'component', 'rules', 'inputs', 'integrity', 'cache']);

/** The content of each file one include entry names, each already expanded. */
function read(state: State, file: YamlSource, entry: unknown, at: PathSegment[], origin: Origin, depth: number): Record<string, unknown>[] {
  const problem = (message: string, path = at, code?: typeof FILE_NOT_FOUND) => {
    state.problems.push({ position: file.position(path), message, ...(code ? { code } : {}) });
    return [];
  };
  const spec: Record<string, unknown> | undefined = typeof entry === 'string' ? (/^https?:\/\//.test(entry) ? { remote: entry } : { local: entry }) : isPlain(entry) ? entry : undefined;
  if (!spec) return problem('an include is a file name, a URL, or a map with local, project, remote, template or component');
  for (const key of Object.keys(spec)) if (!KEYS.has(key)) return problem(`unknown key "${key}" in include`, [...at, key]);
  if (spec.rules !== undefined && !includeRulesMatch(state, file, spec.rules, [...at, 'rules'])) return [];
  // Inputs of content not read from here are part of what its notice names.
  const read = (got: Record<string, unknown>[]) => {
    if (spec.inputs !== undefined && got.length) state.notices.push(file.notice(at, 'inputs', 'NESTOR_INCLUDE_INPUTS', 'include inputs are not interpolated ($[[ inputs.* ]] is left as written)', 'degraded'));
    return got;
  };
  if (depth >= 100) return problem('includes nest more than 100 deep');

  if (typeof spec.local === 'string') {
    if (origin.kind === 'project') return read(fetched(state, file, at, `${origin.project}:${spec.local}`, depth, origin, () => fetchProjectFile(origin.project, origin.ref, spec.local as string, state.source)));
    return read(local(state, file, spec.local, [...at, ...(typeof entry === 'string' ? [] : ['local'])], depth));
  }
  if (typeof spec.project === 'string') {
    const files = typeof spec.file === 'string' ? [spec.file] : Array.isArray(spec.file) ? spec.file.filter((f): f is string => typeof f === 'string') : [];
    if (!files.length) return problem('an include of a project names its file', [...at, 'project']);
    const ref = typeof spec.ref === 'string' ? substituteVars(spec.ref, state.vars) : undefined;
    const project = substituteVars(spec.project, state.vars);
    const next: Origin = { kind: 'project', project, ref };
    return read(files.flatMap((f) => fetched(state, file, at, `${project}:${f}${ref ? `@${ref}` : ''}`, depth, next, () => fetchProjectFile(project, ref, f, state.source))));
  }
  if (typeof spec.remote === 'string') {
    const url = substituteVars(spec.remote, state.vars);
    return read(fetched(state, file, at, url, depth, origin, () => fetchRemote(url, state.source)));
  }
  if (typeof spec.template === 'string') {
    const name = spec.template;
    state.unreachable.push(`template ${name}`);
    state.notices.push(
      file.notice(at, 'template', REMOTE_UNREACHABLE, `include template ${name} is GitLab's own and not read from here: to use it, vendor it (curl -o ci/templates/${name.split('/').pop()} ${TEMPLATE_URL}/${name}) and include it with local: ci/templates/${name.split('/').pop()}`, 'degraded'),
    );
    return [];
  }
  if (typeof spec.component === 'string') {
    state.unreachable.push(`component ${spec.component}`);
    state.notices.push(file.notice(at, 'component', REMOTE_UNREACHABLE, `include component ${spec.component} lives in a GitLab CI/CD catalog and is not read from here: vendor its template into the repository and include it with local:`, 'degraded'));
    return [];
  }
  return problem('an include names one of local, project, remote, template or component');
}

/** `include: local`, a path from the repository's root, `*` and `**` matching as GitLab's globs do. */
function local(state: State, file: YamlSource, path: string, at: PathSegment[], depth: number): Record<string, unknown>[] {
  const repo = state.source.repoDir;
  const wanted = path.replace(/^(\.?\/)+/, '');
  if (!repo) {
    state.problems.push({ position: file.position(at), message: `include local ${path}: there is no repository to read it from (submit the included files with the pipeline, or inline them)`, code: FILE_NOT_FOUND });
    return [];
  }
  const paths = /[*?[{]/.test(wanted) ? repoFiles(repo).filter((f) => globMatches(f, wanted)) : [wanted];
  if (paths.length === 0) {
    state.notices.push(file.notice(at, undefined, 'NESTOR_INCLUDE_EMPTY', `include local ${path} matches no file`, 'info'));
    return [];
  }
  return paths.flatMap((rel) => {
    const full = join(repo, rel);
    if (relative(repo, full).startsWith('..')) {
      state.problems.push({ position: file.position(at), message: `include local ${path} leaves the repository` });
      return [];
    }
    if (!existsSync(full) || !statSync(full).isFile()) {
      state.problems.push({ position: file.position(at), message: `include local ${path}: no such file in the repository`, code: FILE_NOT_FOUND });
      return [];
    }
    if (!/\.ya?ml$/.test(rel)) {
      state.problems.push({ position: file.position(at), message: `include local ${path}: an included file is a .yml or .yaml file` });
      return [];
    }
    const shown = relative(process.cwd(), full);
    return parsed(state, file, at, shown && !shown.startsWith('..') ? shown : full, readFileSync(full, 'utf8'), depth, { kind: 'repo' });
  });
}

/** A file from outside the repository; when it cannot be fetched, a notice says why and what is missing. */
function fetched(state: State, file: YamlSource, at: PathSegment[], name: string, depth: number, origin: Origin, get: () => string): Record<string, unknown>[] {
  let text: string;
  try {
    text = get();
  } catch (err) {
    if (!(err instanceof FetchError)) throw err;
    state.unreachable.push(name);
    state.notices.push(file.notice(at, undefined, REMOTE_UNREACHABLE, `include ${name} is not fetched from here (${err.message}): jobs and templates it defines are missing; vendor it into the repository and include it with local:, or let the operator allow its host`, 'degraded'));
    return [];
  }
  return parsed(state, file, at, name, text, depth, origin);
}

function parsed(state: State, file: YamlSource, at: PathSegment[], name: string, text: string, depth: number, origin: Origin): Record<string, unknown>[] {
  if (state.seen.has(name)) return [];
  state.seen.add(name);
  if (++state.count > MAX_INCLUDES) throw new PipelineLimitError('steps', MAX_INCLUDES, file.position(at), `more than ${MAX_INCLUDES} included files (GitLab's own limit)`);
  if (Buffer.byteLength(text) > file.limits.bytes) throw new PipelineLimitError('bytes', file.limits.bytes, file.position(at), `the included ${name} is ${Buffer.byteLength(text)} bytes`);
  const child = YamlSource.parse(name, text, file.limits);
  state.notices.push(...child.repeatedNotices('GitLab'));
  if (child.value === null || child.value === undefined) return [];
  if (!isPlain(child.value)) {
    state.problems.push({ position: child.position([]), message: `the included ${name} is not a map of jobs and keywords` });
    return [];
  }
  const value = expand(state, child, child.value, origin, depth + 1);
  state.layers.push(child);
  return [value];
}

/** An include's `rules`: the first whose `if`, `exists` and `changes` hold decides; none: not included. */
function includeRulesMatch(state: State, file: YamlSource, rules: unknown, at: PathSegment[]): boolean {
  if (!Array.isArray(rules)) {
    state.problems.push({ position: file.position(at), message: 'include rules are a list' });
    return false;
  }
  for (const [i, rule] of rules.entries()) {
    if (!isPlain(rule)) continue;
    if (typeof rule.if === 'string') {
      let holds: boolean;
      try {
        holds = parseRule(rule.if, file.limits)(state.vars);
      } catch (err) {
        if (!(err instanceof RuleSyntaxError || err instanceof RegexError)) throw err;
        state.problems.push({ position: file.position([...at, i, 'if']), message: `rule "${rule.if}": ${err.message}` });
        return false;
      }
      if (!holds) continue;
    }
    if (rule.exists !== undefined && !existsMatch(state.source.repoDir, rule.exists)) continue;
    return rule.when !== 'never';
  }
  return false;
}

/** Whether a file matching one of `exists`' globs is in the repository (no repository: unknown, taken as yes). */
export function existsMatch(repoDir: string | undefined, exists: unknown): boolean {
  const globs = (isPlain(exists) ? exists.paths : exists) as unknown;
  const list = typeof globs === 'string' ? [globs] : Array.isArray(globs) ? globs.filter((g): g is string => typeof g === 'string') : [];
  if (!repoDir) return true;
  const files = repoFiles(repoDir);
  return list.some((g) => {
    const glob = g.replace(/^\/+/, '');
    return /[*?[{]/.test(glob) ? files.some((f) => globMatches(f, glob)) : existsSync(join(repoDir, glob));
  });
}

const listed = new Map<string, string[]>();
/** The repository's files, relative, `.git` left out; at most 50,000, read once per process. */
export function repoFiles(repoDir: string): string[] {
  const known = listed.get(repoDir);
  if (known) return known;
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(join(repoDir, dir), { withFileTypes: true })) {
      if (files.length >= 50_000) return;
      const rel = dir ? `${dir}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (e.name !== '.git' && e.name !== 'node_modules') walk(rel);
      } else files.push(rel);
    }
  };
  walk('');
  listed.set(repoDir, files);
  return files;
}

/** `$VAR` and `${VAR}` from the variables known when includes are read. */
function substituteVars(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (whole, a: string | undefined, b: string | undefined) => vars[(a ?? b)!] ?? whole);
}
