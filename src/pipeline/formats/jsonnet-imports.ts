import { existsSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, relative, resolve } from 'node:path';
import { FILE_NOT_FOUND, type PipelineProblem, type SourcePosition } from '../errors.ts';
import { enforce, type PipelineLimits } from '../limits.ts';

/**
 * The reference jsonnet program opens whatever an import names: an absolute path, `../..`, a
 * link out of the repository, and a name not found beside the importing file in the library
 * directories it always adds (/usr/share/jsonnet-VERSION/, /usr/local/share/jsonnet-VERSION/).
 * It has no hook to stop that, so every import is checked before it runs: each must name, by a
 * path relative to the importing file and without `..`, a file that is in the repository once
 * links are followed. Imported code is checked in turn.
 *
 * The scan looks for the keywords anywhere, in comments and strings too, rather than lexing
 * Jsonnet: a lexer that took code for a comment would let an import through unchecked, while
 * a keyword in a comment is at worst refused. Jsonnet requires a string literal after the
 * keyword ("computed imports are not allowed"), so what follows anything else is no import.
 */

const KEYWORD = /\bimport(?:str|bin)?\b/g;
const PATH_OUTSIDE = 'NESTOR_PATH_OUTSIDE_REPOSITORY';
/** Drone's importer stops at 10 fetched files; the check stops at this many, to bound its own work. */
const MAX_FILES = 100;

export interface ImportScope {
  /** The repository's directory: nothing outside it is read. Undefined: no repository, no import. */
  root: string | undefined;
  /** The directory imports of the main text are relative to (where jsonnet runs); undefined with no repository. */
  dir: string | undefined;
  /** The main text's name in problems. */
  file: string;
  /** A file's name in problems. */
  shown: (path: string) => string;
  /** Each imported file is held to the `bytes` of one pipeline file before it is read. */
  limits: PipelineLimits;
}

/** The problems of every import of `text` and of the code it imports: none when all stay in the repository. */
export function importProblems(text: string, scope: ImportScope): PipelineProblem[] {
  const problems: PipelineProblem[] = [];
  const root = scope.root === undefined ? undefined : realpathSync(scope.root);
  const seen = new Set<string>();
  const queue: { text: string; dir: string | undefined; file: string }[] = [{ text, dir: scope.dir, file: scope.file }];
  for (let next = queue.shift(); next; next = queue.shift()) {
    const lines = new TextLines(next.file, next.text);
    for (const ref of importsIn(next.text)) {
      const dir = next.dir;
      const refused = root === undefined || dir === undefined ? noRepository(ref) : refusal(ref, dir, root);
      if (refused || dir === undefined) {
        problems.push({ position: lines.at(ref.offset), ...(refused ?? noRepository(ref)) });
        continue;
      }
      // importstr and importbin read data, which imports nothing.
      const full = resolve(dir, ref.path!);
      if (ref.keyword !== 'import' || seen.has(full)) continue;
      seen.add(full);
      if (seen.size > MAX_FILES) return [...problems, { position: lines.at(ref.offset), message: `the Jsonnet imports more than ${MAX_FILES} files` }];
      const bytes = statSync(full).size;
      enforce(scope.limits, 'bytes', bytes, () => lines.at(ref.offset), `${ref.keyword} ${quoted(ref)} is ${bytes} bytes`);
      queue.push({ text: readFileSync(full, 'utf8'), dir: dirname(full), file: scope.shown(full) });
    }
  }
  return problems;
}

interface ImportRef {
  keyword: string;
  /** Undefined: a string literal Nestor cannot decode. */
  path: string | undefined;
  offset: number;
}

function noRepository(ref: ImportRef): Omit<PipelineProblem, 'position'> {
  return { code: FILE_NOT_FOUND, message: `${ref.keyword} ${quoted(ref)}: there is no repository to read it from (a submitted .drone.jsonnet is evaluated on its own: inline what it imports)` };
}

function refusal(ref: ImportRef, dir: string, root: string): Omit<PipelineProblem, 'position'> | undefined {
  const { keyword, path } = ref;
  if (path === undefined) return { message: `${keyword}: Nestor cannot read the path written after it; write it as a plain string literal` };
  // A NUL would end the path early in jsonnet's C++, a lone surrogate be encoded otherwise than Node does.
  if (path === '' || /[\u0000-\u001f]/.test(path) || !path.isWellFormed()) return { message: `${keyword} ${quoted(ref)} is not a path Nestor reads` };
  if (isAbsolute(path) || path.split('/').includes('..')) {
    return { code: PATH_OUTSIDE, message: `${keyword} ${quoted(ref)} leaves the repository: Jsonnet files import by a path relative to the importing file, without .., as Drone reads them from the repository` };
  }
  const full = resolve(dir, path);
  if (!existsSync(full)) {
    // Not found here, jsonnet would look in its library directories, outside the repository.
    return { code: FILE_NOT_FOUND, message: `${keyword} ${quoted(ref)}: no such file beside the importing file in the repository (Nestor checks every import it finds, one in a comment too)` };
  }
  const real = realpathSync(full);
  const inside = relative(root, real);
  if (inside.startsWith('..') || isAbsolute(inside)) return { code: PATH_OUTSIDE, message: `${keyword} ${quoted(ref)} leaves the repository through a symbolic link (to ${real})` };
  if (!statSync(real).isFile()) return { message: `${keyword} ${quoted(ref)} is not a file` };
  return undefined;
}

function quoted(ref: ImportRef): string {
  return JSON.stringify(ref.path ?? '');
}

/** Each import keyword of `text` followed by a string literal, with that literal's value. */
function* importsIn(text: string): Generator<ImportRef> {
  for (const m of text.matchAll(KEYWORD)) {
    const at = skipBlank(text, m.index + m[0].length);
    const literal = stringAt(text, at);
    if (literal) yield { keyword: m[0], path: literal.value, offset: m.index };
  }
}

/** Past whitespace and comments (`#`, `//`, `/* … *\/`), as Jsonnet's lexer skips them between tokens. */
function skipBlank(text: string, from: number): number {
  let i = from;
  for (;;) {
    while (i < text.length && /\s/.test(text[i]!)) i++;
    if (text[i] === '#' || text.startsWith('//', i)) {
      const end = text.indexOf('\n', i);
      if (end < 0) return text.length;
      i = end + 1;
    } else if (text.startsWith('/*', i)) {
      const end = text.indexOf('*/', i + 2);
      if (end < 0) return text.length;
      i = end + 2;
    } else {
      return i;
    }
  }
}

const ESCAPES: Record<string, string> = { '"': '"', "'": "'", '\\': '\\', '/': '/', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' };

/**
 * The string literal that starts at `i`: undefined when none does; `value` undefined when one
 * does but is not decoded here (unterminated, an escape Jsonnet has not), which is refused.
 * Text blocks (`|||`) are not taken: Jsonnet refuses them after an import.
 */
function stringAt(text: string, i: number): { value: string | undefined } | undefined {
  const verbatim = text[i] === '@';
  const quote = text[verbatim ? i + 1 : i];
  if (quote !== '"' && quote !== "'") return undefined;
  let out = '';
  for (let j = verbatim ? i + 2 : i + 1; j < text.length; j++) {
    const c = text[j]!;
    if (c === quote) {
      if (!verbatim || text[j + 1] !== quote) return { value: out };
      out += quote;
      j++;
    } else if (c === '\\' && !verbatim) {
      const e = text[j + 1] ?? '';
      const hex = text.slice(j + 2, j + 6);
      if (ESCAPES[e] !== undefined) out += ESCAPES[e];
      else if (e === 'u' && /^[0-9a-fA-F]{4}$/.test(hex)) out += String.fromCharCode(parseInt(hex, 16));
      else return { value: undefined };
      j += e === 'u' ? 5 : 1;
    } else {
      out += c;
    }
  }
  return { value: undefined };
}

/** Offsets of a text as file:line:column, by a binary search of its line starts. */
export class TextLines {
  readonly file: string;
  private readonly starts: number[] = [0];
  constructor(file: string, text: string) {
    this.file = file;
    for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) this.starts.push(i + 1);
  }

  at(offset: number): SourcePosition {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { file: this.file, line: lo + 1, column: offset - this.starts[lo]! + 1 };
  }
}
