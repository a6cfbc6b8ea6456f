import { NestorError, type ErrorCode } from '../errors.ts';

/** Where in a pipeline file something is: 1-based, as editors show it. */
export interface SourcePosition {
  file: string;
  line: number;
  column: number;
}

export function formatPosition(p: SourcePosition): string {
  return `${p.file}:${p.line}:${p.column}`;
}

/** One problem in a pipeline file, pointing at the place to fix. */
export interface PipelineProblem {
  position: SourcePosition;
  message: string;
  /** A code of its own (NESTOR_FILE_NOT_FOUND); otherwise the error's code stands for it. */
  code?: ErrorCode;
}

/**
 * How a part of a pipeline file was understood, at the key that caused it. `info`: nothing
 * the file means is lost (a key recorded, a cache that only saves time). `degraded`: something
 * the file asks for will not happen as written; its code says why:
 * NESTOR_REMOTE_UNREACHABLE when only because content outside the repository cannot be
 * fetched from here, NESTOR_PLATFORM_UNAVAILABLE when the file asks for a platform this
 * runner cannot offer, a code of its own otherwise.
 */
export interface PipelineNotice extends SourcePosition {
  code: ErrorCode;
  message: string;
  /** The key that caused it, as a dotted path from the top of the file (`build.cache`). */
  key: string;
  severity: 'info' | 'degraded';
}

export const REMOTE_UNREACHABLE = 'NESTOR_REMOTE_UNREACHABLE';
export const PLATFORM_UNAVAILABLE = 'NESTOR_PLATFORM_UNAVAILABLE';
export const FILE_NOT_FOUND = 'NESTOR_FILE_NOT_FOUND';

/** The notices of several plans (matrix jobs repeat them) once each, in file order. */
export function uniqueNotices(notices: readonly PipelineNotice[]): PipelineNotice[] {
  const seen = new Set<string>();
  return notices
    .filter((n) => {
      const key = `${n.file}:${n.line}:${n.column}\0${n.message}`;
      return !seen.has(key) && Boolean(seen.add(key));
    })
    .sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line || a.column - b.column);
}

const INVALID_HINT = 'Fix the file at the places named; docs/pipeline.md describes every key.';

/** A pipeline file that cannot run: every problem found, each with file:line:column. */
export class PipelineError extends NestorError {
  readonly problems: PipelineProblem[];
  /** What the files that have these problems were found to mean besides, for lint to list too. */
  notices: PipelineNotice[] = [];
  constructor(problems: PipelineProblem[], hint = INVALID_HINT, code: ErrorCode = 'NESTOR_PIPELINE_INVALID') {
    super(code, problems.map((p) => `${formatPosition(p.position)}: ${p.message}`).join('\n'), hint);
    this.problems = problems;
  }

  override details(): Record<string, unknown> {
    return { problems: this.problems };
  }
}

/** A pipeline that is valid but uses something Nestor does not run; named, never ignored. */
export class UnsupportedFeatureError extends PipelineError {
  constructor(problems: PipelineProblem[]) {
    super(problems, 'Remove or rewrite these parts; docs/pipeline.md lists what each imported format supports.', 'NESTOR_PIPELINE_UNSUPPORTED');
  }
}

/** By file, then line, then column, as a compiler lists them; the same problem twice once (matrix jobs repeat them). */
export function sortProblems(problems: readonly PipelineProblem[]): PipelineProblem[] {
  const seen = new Set<string>();
  const unique = problems.filter((p) => {
    const key = `${formatPosition(p.position)}\0${p.message}`;
    return !seen.has(key) && Boolean(seen.add(key));
  });
  return unique.sort((a, b) => a.position.file.localeCompare(b.position.file) || a.position.line - b.position.line || a.position.column - b.position.column);
}

/**
 * Throws every problem found as one error, or returns when there are none. Parts Nestor does
 * not run are a problem of their own kind (NESTOR_PIPELINE_UNSUPPORTED) only when nothing is
 * wrong besides them; otherwise they are listed with the rest, so that one run shows all.
 */
export function throwProblems(invalid: readonly PipelineProblem[], unsupported: readonly PipelineProblem[] = [], notices: readonly PipelineNotice[] = []): void {
  if (invalid.length === 0 && unsupported.length === 0) return;
  if (invalid.length === 0) throw withNotices(new UnsupportedFeatureError(sortProblems(unsupported)), notices);
  const hint = unsupported.length ? `${INVALID_HINT} Parts Nestor does not run are named too: remove or rewrite them.` : INVALID_HINT;
  throw withNotices(new PipelineError(sortProblems([...invalid, ...unsupported]), hint), notices);
}

export function withNotices<E extends PipelineError>(err: E, notices: readonly PipelineNotice[]): E {
  err.notices = uniqueNotices(notices);
  return err;
}

/**
 * Runs `work` on each item and returns the results, or throws the problems of every item
 * together (several files, several documents), so that one item's problems do not hide the next's.
 */
export function everyProblem<T, R>(items: readonly T[], work: (item: T) => R[]): R[] {
  const results: R[] = [];
  const failed: PipelineError[] = [];
  for (const item of items) {
    try {
      results.push(...work(item));
    } catch (err) {
      // A limit stops everything at once: going on to the next file would cost what it prevents.
      if (!(err instanceof PipelineError) || err.code === 'NESTOR_PIPELINE_LIMIT') throw err;
      failed.push(err);
    }
  }
  if (failed.length === 1) throw failed[0];
  if (failed.length > 1) {
    const problems = sortProblems(failed.flatMap((e) => e.problems));
    const notices = uniqueNotices(failed.flatMap((e) => e.notices));
    if (failed.every((e): boolean => e instanceof UnsupportedFeatureError)) throw withNotices(new UnsupportedFeatureError(problems), notices);
    // Each kind of hint once; one that another already says in full is left out.
    const hints = [...new Set(failed.map((e) => e.hint))];
    throw withNotices(new PipelineError(problems, hints.filter((h) => !hints.some((o) => o !== h && o.includes(h))).join(' ')), notices);
  }
  return results;
}
