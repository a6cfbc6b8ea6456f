import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { NestorError } from '../../errors.ts';
import { PipelineError, UnsupportedFeatureError, type PipelineNotice, type PipelineProblem, type SourcePosition } from '../errors.ts';
import { enforce, PipelineLimitError, type PipelineLimits } from '../limits.ts';
import type { PipelineConfig } from '../model.ts';
import type { RunFacts } from '../when.ts';
import { YamlSource, type PathSegment } from '../yaml-source.ts';
import { importProblems, TextLines, type ImportScope } from './jsonnet-imports.ts';
import { droneVariables } from '../forge-variables.ts';
import { substituteStrings, SubstitutionError } from '../pre-substitute.ts';

/**
 * Drone's `.drone.jsonnet`: evaluated by the reference jsonnet program (Debian's `jsonnet`) in
 * a child process, bounded in time, memory and output, with every import checked to stay in
 * the repository (jsonnet-imports.ts); its result is read as the documents of a `.drone.yml`.
 * Drone evaluates it the same way: a list is a stream of documents, anything else one document.
 */

export const isJsonnet = (path: string): boolean => path.endsWith('.jsonnet');
/** Drone's Starlark scripts, which Nestor does not evaluate. */
export const isStarlark = (path: string): boolean => /\.(star|starlark)$/.test(path);

export class JsonnetMissingError extends NestorError {
  constructor(file: string) {
    super(
      'NESTOR_JSONNET_MISSING',
      `${file} is a Drone Jsonnet file, and the jsonnet program that evaluates it is not installed here`,
      'Install Debian\'s jsonnet package (sudo apt-get install jsonnet) or run bash scripts/ensure-env.sh; or write the result to .drone.yml with `drone jsonnet --stream` and run that.',
    );
  }
}

export interface JsonnetInput {
  path: string;
  text: string;
  displayPath: string;
  facts: RunFacts & { trusted?: boolean };
  limits: PipelineLimits;
  /** The program, looked for in /usr/local/bin, /usr/bin and /bin: Debian's `jsonnet` unless a test says otherwise. */
  program?: string;
}

/** What is known of each evaluated document, for explainJsonnet. */
interface Evaluated {
  /** The dotted path each position given out stands for. */
  keys: WeakMap<SourcePosition, string>;
  ctxNotice?: PipelineNotice;
}
const evaluated = new WeakMap<YamlSource, Evaluated>();

/** A `.drone.star`: refused by name, with the way to a file Nestor reads. */
export function starlarkRefused(displayPath: string, text: string): UnsupportedFeatureError {
  const main = /^def\s+main\s*\(/m.exec(text);
  const name = basename(displayPath);
  return new UnsupportedFeatureError([{
    position: new TextLines(displayPath, text).at(main?.index ?? 0),
    message: `${name} is a Drone Starlark script, which Nestor does not evaluate: write its result to .drone.yml with the drone CLI (drone starlark --source ${name} --target .drone.yml) and run that, or write the pipelines as .drone.jsonnet or .drone.yml`,
  }]);
}

/**
 * Drone expands `${NAME}` in what its converter hands on, as in a `.drone.yml`: here in each
 * string of the evaluated documents, from the run's DRONE_* variables and -e values.
 */
function expanded(doc: unknown, input: JsonnetInput, lines: TextLines): unknown {
  const facts = input.facts as JsonnetInput['facts'] & { env?: Record<string, string> };
  const vars = { CI: 'true', ...droneVariables(facts, { pipeline: '', workspace: '/drone/src' }), ...facts.env };
  try {
    return substituteStrings(doc, vars);
  } catch (err) {
    if (!(err instanceof SubstitutionError)) throw err;
    throw new PipelineError([{ position: lines.at(0), message: `in a string the Jsonnet evaluates to: ${err.message}` }], 'Drone expands ${...} in the evaluated pipelines: write $${...} in the string for what the shell should expand.');
  }
}

/** The documents `.drone.jsonnet` evaluates to, each a source whose positions are in the Jsonnet text. */
export function jsonnetSources(input: JsonnetInput): YamlSource[] {
  const { text, displayPath, limits } = input;
  const lines = new TextLines(displayPath, text);
  const { value, ctx } = evaluate(input, lines);
  const bytes = Buffer.byteLength(JSON.stringify(value));
  enforce(limits, 'bytes', bytes, () => lines.at(0), `${basename(displayPath)} evaluates to ${bytes} bytes of JSON`);
  const docs: unknown[] = (Array.isArray(value) ? value : [value]).map((d) => expanded(d, input, lines));
  const problems = docs.flatMap((d, i): PipelineProblem[] => (isObject(d) ? [] : [{ position: lines.at(0), message: `the Jsonnet evaluates to a list whose entry ${i + 1} is ${d === null ? 'null' : typeof d}, not a Drone document (kind: pipeline, …)` }]));
  if (docs.length === 0) problems.push({ position: lines.at(0), message: 'the Jsonnet evaluates to an empty list: no pipeline' });
  if (problems.length) throw new PipelineError(problems);
  const fn = /\bfunction\s*\(\s*ctx\b/.exec(text);
  return docs.map((doc, i) => {
    const keys = new WeakMap<SourcePosition, string>();
    const source = YamlSource.placed(displayPath, doc, placer(text, lines, docs, i, keys), limits);
    evaluated.set(source, { keys, ...(ctx ? { ctxNotice: ctxNotice(lines.at(fn?.index ?? 0)) } : {}) });
    return source;
  });
}

/**
 * A pipeline read from an evaluated document, its problems and notices saying which pipeline
 * and key they are about: their positions can only be near the Jsonnet that made them.
 */
export function explainJsonnet(config: PipelineConfig, source: YamlSource): PipelineConfig {
  const doc = evaluated.get(source);
  if (!doc) return config;
  const about = (message: string, key: string | undefined) => (message.startsWith(`pipeline ${config.name}`) ? message : `pipeline ${config.name}${key ? `, ${key}` : ''}: ${message}`);
  const explained = (p: PipelineProblem): PipelineProblem => ({ ...p, message: about(p.message, doc.keys.get(p.position)) });
  return {
    ...config,
    ...(config.problems ? { problems: config.problems.map(explained) } : {}),
    ...(config.unsupported ? { unsupported: config.unsupported.map(explained) } : {}),
    notices: [...(doc.ctxNotice ? [doc.ctxNotice] : []), ...(config.notices ?? []).map((n) => ({ ...n, message: about(n.message, n.key) }))],
  };
}

function ctxNotice(at: SourcePosition): PipelineNotice {
  return {
    ...at,
    code: 'NESTOR_JSONNET_CTX',
    key: '',
    severity: 'info',
    message: 'the file is a function(ctx): Nestor calls it with ctx.build and ctx.repo, the values of the build.* and repo.* external variables; Drone passes no top-level argument, so there a ctx without a default fails: a file both run reads std.extVar("build.branch")',
  };
}

/**
 * The evaluated value (and whether the file was a function given ctx): jsonnet's JSON, or its
 * error as a problem at jsonnet's own file:line:column.
 */
function evaluate(input: JsonnetInput, lines: TextLines): { value: unknown; ctx: boolean } {
  const { displayPath, limits } = input;
  const scope = importScope(input);
  const refused = importProblems(input.text, scope);
  if (refused.length) throw new PipelineError(refused, 'Jsonnet imports are read from the repository only: import by a path relative to the importing file, without .., a file that is there (not a link out of it).');
  const vars = externalVariables(input, scope.root);
  const deadline = Date.now() + limits.compileMs;
  // No repository: no import passed the check, and jsonnet runs in an empty directory all the same.
  const dir = scope.dir ?? mkdtempSync(join(tmpdir(), 'nestor-jsonnet-'));
  try {
    const run = (ctx: boolean) => runJsonnet(input, dir, [...Object.entries(vars).flatMap(([k, v]) => ['-V', `${k}=${v}`]), ...(ctx ? ['--tla-code', `ctx=${JSON.stringify(contextOf(vars))}`] : [])], deadline);
    let result = run(false);
    // Drone passes no top-level arguments; a top-level function(ctx) is given Starlark's ctx.
    const ctx = result.status !== 0 && /^RUNTIME ERROR: function parameter ctx not bound in call/.test(result.stderr) && /\tTop-level function/.test(result.stderr);
    if (ctx) result = run(true);
    if (result.status !== 0) throw new PipelineError([evaluationProblem(result.stderr, displayPath, lines)], `Fix the Jsonnet at the place named (the jsonnet program reports it there too: jsonnet -V build.branch=main ${basename(displayPath)}); Nestor gives it Drone's build.* and repo.* external variables, and ctx to a top-level function(ctx).`);
    return { value: JSON.parse(result.stdout) as unknown, ctx };
  } finally {
    if (scope.dir === undefined) rmSync(dir, { recursive: true, force: true });
  }
}

/** Where imports are read: beside the file in its repository; no repository (a submitted text), none. */
function importScope(input: JsonnetInput): ImportScope {
  const repo = input.facts.includes?.repoDir;
  const full = resolve(input.path);
  const inRepo = repo !== undefined && !relative(resolve(repo), full).startsWith('..');
  // A file named outside the repository (`nestor lint ../x/.drone.jsonnet`) imports from its own directory.
  const root = inRepo ? resolve(repo) : repo !== undefined ? dirname(full) : undefined;
  const dir = root === undefined ? undefined : dirname(full);
  const shownDir = dirname(input.displayPath);
  return { root, dir, file: input.displayPath, shown: (p) => join(shownDir, relative(dir ?? '', p)), limits: input.limits };
}

/**
 * One jsonnet run on `text` (stdin), in `dir` so that imports resolve beside the file, with no
 * JSONNET_PATH and no -J: the only library directories are the built-in ones, which the
 * import check keeps it from reaching. `ulimit -v` bounds its memory, the timeout its time,
 * maxBuffer its output (pretty-printed: room for its indentation over the bytes limit).
 */
function runJsonnet(input: JsonnetInput, dir: string, args: string[], deadline: number): { status: number; stdout: string; stderr: string } {
  const { text, limits, displayPath } = input;
  const script = 'ulimit -v "$1" 2>/dev/null; shift; command -v "$0" >/dev/null 2>&1 || exit 127; exec "$0" "$@"';
  const maxBuffer = limits.bytes * 16;
  const ms = Math.max(1, deadline - Date.now());
  const r = spawnSync('/bin/sh', ['-c', script, input.program ?? 'jsonnet', String(limits.compileMemoryMb * 1024), '--max-trace', '20', ...args, '-'], {
    input: text,
    cwd: dir,
    env: { PATH: '/usr/local/bin:/usr/bin:/bin' },
    encoding: 'utf8',
    timeout: ms,
    killSignal: 'SIGKILL',
    maxBuffer,
  });
  const at = () => ({ file: displayPath, line: 1, column: 1 });
  const code = (r.error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ETIMEDOUT') throw new PipelineLimitError('compileMs', limits.compileMs, at(), `evaluating the Jsonnet took longer than ${limits.compileMs} ms`);
  if (code === 'ENOBUFS') throw new PipelineLimitError('bytes', limits.bytes, at(), `the Jsonnet printed more than ${maxBuffer.toLocaleString('en')} bytes`);
  if (code === 'ENOENT' || r.status === 127) throw new JsonnetMissingError(displayPath);
  if (r.error) throw r.error;
  // Past `ulimit -v`, the C++ allocator fails and jsonnet says so before it aborts.
  if (/memory allocation|bad_alloc/.test(r.stderr)) throw new PipelineLimitError('compileMemoryMb', limits.compileMemoryMb, at(), 'evaluating the Jsonnet ran out of memory');
  return { status: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

/** jsonnet's locations: `file:3:5`, `file:3:5-10`, `file:(3:5)-(4:2)`. */
const LOCATION = /^(.+?):(?:(\d+):(\d+)(?:-\d+)?|\((\d+):(\d+)\)-\(\d+:\d+\))$/;

/** jsonnet's error (STATIC ERROR: loc: message, or RUNTIME ERROR: message, then a frame per line) as a problem. */
function evaluationProblem(stderr: string, displayPath: string, lines: TextLines): PipelineProblem {
  const all = stderr.trimEnd().split('\n');
  const place = (loc: string): SourcePosition | undefined => {
    const m = LOCATION.exec(loc.trim());
    if (!m) return undefined;
    const file = m[1] === '<stdin>' ? displayPath : join(dirname(displayPath), m[1]!);
    return { file, line: Number(m[2] ?? m[4]), column: Number(m[3] ?? m[5]) };
  };
  const syntax = /^STATIC ERROR: (.+?:(?:\d+:\d+(?:-\d+)?|\(\d+:\d+\)-\(\d+:\d+\))): (.*)$/.exec(all[0] ?? '');
  if (syntax) return { position: place(syntax[1]!) ?? lines.at(0), message: `Jsonnet syntax: ${syntax[2]}` };
  const first = (all[0] ?? '').replace(/^RUNTIME ERROR: /, '');
  const frames = all.slice(1).filter((l) => l.startsWith('\t'));
  const message = [first, ...all.slice(1).filter((l) => !l.startsWith('\t'))].join(' ').trim();
  // Frames in jsonnet's own standard library (std.jsonnet, built in) say where std.format
  // failed, not which line of the file called it: the file's own frames come first.
  const isStd = (f: string) => /^std\.jsonnet:/.test((f.split('\t')[1] ?? '').trim());
  const ordered = [...frames.filter((f) => !isStd(f)), ...frames.filter(isStd)];
  const located = ordered.map((f) => place(f.split('\t')[1] ?? '')).filter((p) => p !== undefined);
  const from = located.slice(1, 4).map((p) => `${p.file}:${p.line}:${p.column}`);
  return { position: located[0] ?? lines.at(0), message: `Jsonnet error: ${message || 'jsonnet failed'}${from.length ? ` (from ${from.join(', ')})` : ''}` };
}

/**
 * The external variables Drone's converter sets (plugin/converter/jsonnet), from what Nestor
 * knows of the run; what it does not know is empty, so that std.extVar of any of them works.
 */
function externalVariables(input: JsonnetInput, root: string | undefined): Record<string, string> {
  const f = input.facts;
  const branch = f.branch ?? '';
  const ref = f.ref ?? (f.tag ? `refs/tags/${f.tag}` : branch ? `refs/heads/${branch}` : '');
  const slug = f.facts?.repo ?? f.project ?? '';
  const cut = slug.lastIndexOf('/');
  const config = root === undefined ? basename(input.path) : relative(root, resolve(input.path));
  const build = {
    event: f.event ?? 'push', action: f.facts?.action ?? '', environment: f.facts?.target ?? '', link: '', branch, source: branch, before: '', after: f.commit ?? '',
    target: branch, ref, commit: f.commit ?? '', title: '', message: '', source_repo: '', author_login: '', author_name: '', author_email: '', author_avatar: '', sender: '',
  };
  const repository = {
    uid: '', name: cut >= 0 ? slug.slice(cut + 1) : slug, namespace: cut >= 0 ? slug.slice(0, cut) : '', slug, git_http_url: '', git_ssh_url: '', link: '',
    branch: f.defaultBranch ?? 'main', config, private: 'false', visibility: '', active: 'true', trusted: String(f.trusted ?? false), protected: 'false', ignore_forks: 'false', ignore_pull_requests: 'false',
  };
  return { ...prefixed('build.', build), ...prefixed('repo.', repository) };
}

function prefixed(prefix: string, values: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [prefix + k, v]));
}

/** Starlark's ctx (ctx.build.branch, ctx.repo.slug) from the external variables. */
function contextOf(vars: Record<string, string>): { build: Record<string, string>; repo: Record<string, string> } {
  const part = (prefix: string) => Object.fromEntries(Object.entries(vars).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
  return { build: part('build.'), repo: part('repo.') };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * Where a path of document `index` is, searched for in the Jsonnet text: from the pipeline's
 * name as a string literal (`name: 'build'`), then each step's name and each key after it.
 * A pipeline whose name is not written there (computed) is placed at line 1 when the file
 * makes several, so that a search does not land in another pipeline.
 */
function placer(text: string, lines: TextLines, docs: unknown[], index: number, keys: WeakMap<SourcePosition, string>) {
  const doc = docs[index];
  const name = isObject(doc) && typeof doc.name === 'string' ? doc.name : undefined;
  const anchor = name === undefined ? undefined : literalAt(text, name, 0);
  const deep = anchor !== undefined || docs.length === 1;
  return (path: readonly PathSegment[], key?: string): SourcePosition => {
    const full = key === undefined ? path : [...path, key];
    let offset = anchor ?? 0;
    let value: unknown = doc;
    for (const segment of deep ? full : []) {
      const child = isObject(value) || Array.isArray(value) ? (value as Record<PathSegment, unknown>)[segment] : undefined;
      if (child === undefined) break;
      const found = typeof segment === 'number' ? (isObject(child) && typeof child.name === 'string' ? literalAt(text, child.name, offset) : undefined) : keyAt(text, segment, offset);
      if (found !== undefined) offset = found;
      value = child;
    }
    const position = lines.at(offset);
    keys.set(position, full.join('.'));
    return position;
  };
}

const escaped = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** The first `name: 'value'` at or after `from`, else the first 'value' or "value". */
function literalAt(text: string, value: string, from: number): number | undefined {
  const v = escaped(value);
  return search(text, new RegExp(`\\bname['"]?\\s*:\\s*(['"])${v}\\1`, 'g'), from) ?? search(text, new RegExp(`(['"])${v}\\1`, 'g'), from);
}

/** The first `key:` (or `'key':`, `key+:`, `key::`) at or after `from`. */
function keyAt(text: string, key: string, from: number): number | undefined {
  const k = escaped(key);
  const bare = /^[A-Za-z_]\w*$/.test(key) ? `(?<![\\w$])${k}|` : '';
  return search(text, new RegExp(`(?:${bare}(['"])${k}\\1)\\s*\\+?:`, 'g'), from);
}

function search(text: string, pattern: RegExp, from: number): number | undefined {
  pattern.lastIndex = from;
  return pattern.exec(text)?.index;
}
