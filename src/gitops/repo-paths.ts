import { realpathSync } from 'node:fs';
import { isAbsolute, join, relative, sep } from 'node:path';
import { NestorError } from '../errors.ts';

export class PathEscapeError extends NestorError {
  constructor(what: string, value: string, why: string) {
    super(
      'NESTOR_PATH_OUTSIDE_REPOSITORY',
      `${what} "${value}" ${why}`,
      'Give a path relative to the application\'s directory that stays inside the repository (no "..", no absolute path, no symbolic link out).',
    );
  }
}

/** Whether resolveInRepository failed only because nothing is there (so another place may be tried). */
export function isPathMissing(err: unknown): boolean {
  return err instanceof NestorError && err.code === 'NESTOR_PATH_MISSING';
}

/** Whether `candidate` is `root` or lies below it. */
export function inside(root: string, candidate: string): boolean {
  const rel = relative(root, candidate);
  return rel === '' || (!rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel));
}

/**
 * Resolves `value` (relative to `base`, itself inside `root`) to a real path inside the
 * repository checkout `root`. Refused: absolute paths, paths that climb out with "..", and
 * paths that leave through a symbolic link; a build must never read the builder's own files.
 */
export function resolveInRepository(root: string, base: string, value: string, what: string): string {
  if (isAbsolute(value) || /^[a-zA-Z]:[\\/]/.test(value)) throw new PathEscapeError(what, value, 'is an absolute path');
  const realRoot = realpathSync(root);
  const joined = join(realRoot, base, value);
  if (!inside(realRoot, joined)) throw new PathEscapeError(what, value, 'leaves the repository');
  let real: string;
  try {
    real = realpathSync(joined);
  } catch {
    throw new NestorError('NESTOR_PATH_MISSING', `${what} "${value}" does not exist in the repository`, 'Commit the file or directory, or correct the path in nestor.yaml.');
  }
  if (!inside(realRoot, real)) throw new PathEscapeError(what, value, 'leads out of the repository through a symbolic link');
  return real;
}

/** Whether a symbolic link found inside the build context points back inside the repository. */
export function linkStaysInside(root: string, linkPath: string): boolean {
  try {
    return inside(realpathSync(root), realpathSync(linkPath));
  } catch {
    return false; // dangling: refuse rather than send something undefined
  }
}
