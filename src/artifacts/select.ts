import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract, pack, type Header } from 'tar-stream';
import { globMatches } from '../pipeline/glob.ts';

/** What a job keeps of its workspace for the jobs after it (GitLab `artifacts`, a Nestor job's `artifacts`). */
export interface ArtifactSelection {
  /** Relative to the workspace; a directory keeps everything under it; globs as GitLab reads them. */
  paths: string[];
  exclude: string[];
  /**
   * GitLab's `untracked: true`: also every file that is not one of these (the source's files,
   * `.git` included), whatever `.gitignore` says, as GitLab keeps them.
   */
  untracked?: ReadonlySet<string>;
}

/** A workspace path as the patterns see it: no leading `./`, no trailing `/`. */
function normal(path: string): string {
  return path.replace(/^(\.\/)+/, '').replace(/\/+$/, '');
}

/** Whether `path` (a file or directory in the workspace) is `pattern` or lies under what it names. */
function covered(path: string, pattern: string): boolean {
  const p = normal(pattern);
  if (p === '' || p === '.') return true;
  if (globMatches(path, p)) return true;
  // A directory (or a glob that names directories) keeps what is under it.
  const segments = path.split('/');
  for (let n = segments.length - 1; n > 0; n--) if (globMatches(segments.slice(0, n).join('/'), p)) return true;
  return false;
}

/**
 * The directories to read from a workspace to find everything `paths` can match: each
 * pattern up to its first segment with a glob character (`dist/*.js` → `dist`, `*.xml` → `.`),
 * none under another.
 */
export function artifactRoots(paths: string[]): string[] {
  const roots = paths.map((p) => {
    const fixed: string[] = [];
    for (const segment of normal(p).split('/')) {
      if (/[*?[\]{}]/.test(segment)) break;
      fixed.push(segment);
    }
    return fixed.join('/') || '.';
  });
  if (roots.includes('.')) return ['.'];
  const unique = [...new Set(roots)].sort();
  return unique.filter((r) => !unique.some((o) => o !== r && r.startsWith(`${o}/`)));
}

export function selected(path: string, selection: ArtifactSelection, directory = false): boolean {
  const p = normal(path);
  if (p === '' || p.split('/').includes('..')) return false;
  if (selection.exclude.some((pattern) => covered(p, pattern))) return false;
  if (selection.paths.some((pattern) => covered(p, pattern))) return true;
  // Untracked: files the source did not bring; a directory only as the place of such a file (tar makes it).
  return selection.untracked !== undefined && !directory && p !== '.git' && !p.startsWith('.git/') && !selection.untracked.has(p);
}

export interface SelectionCount {
  files: number;
  bytes: number;
}

/**
 * The entries of a workspace archive that the selection keeps, as a new archive. Links that
 * point out of the workspace are left out: an artifact is unpacked into another job's
 * workspace and must not write or read beyond it.
 */
export function selectArtifacts(archive: NodeJS.ReadableStream, selection: ArtifactSelection, count: SelectionCount = { files: 0, bytes: 0 }): Readable {
  const out = pack();
  const ex = extract();
  ex.on('entry', (header: Header, stream, next) => {
    const keep = selected(header.name, selection, header.type === 'directory') && !(header.type === 'symlink' || header.type === 'link' ? escapes(header.name, header.linkname ?? '') : false);
    if (!keep) {
      stream.on('end', next);
      stream.resume();
      return;
    }
    if (header.type === 'file') {
      count.files++;
      count.bytes += header.size ?? 0;
    }
    const entry = out.entry({ ...header, name: normal(header.name) || header.name }, (err) => next(err ?? undefined));
    stream.pipe(entry);
  });
  pipeline(archive, ex).then(
    () => out.finalize(),
    (err: unknown) => out.destroy(err as Error),
  );
  return Readable.from(out);
}

/** Whether a link at `name` to `target` resolves outside the archive's root. */
function escapes(name: string, target: string): boolean {
  if (target.startsWith('/')) return true;
  const parts = normal(name).split('/').slice(0, -1);
  for (const part of target.split('/')) {
    if (part === '..') {
      if (!parts.length) return true;
      parts.pop();
    } else if (part !== '.' && part !== '') parts.push(part);
  }
  return false;
}
