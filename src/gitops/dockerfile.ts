import { realpathSync, statSync } from 'node:fs';
import { posix, relative, sep } from 'node:path';
import { NestorError } from '../errors.ts';
import { isPathMissing, resolveInRepository } from './repo-paths.ts';

/**
 * Which reading of a function's `dockerfile` found the file. Compose reads it relative to the
 * context; Zerverless manifests (`dockerfile: ./services/api/Dockerfile` beside
 * `context: ./services/api`) relative to the repository. Both are accepted, the context first.
 */
export type DockerfileBase = 'context' | 'source';

export interface DockerfileUsed {
  /** The Dockerfile's path in the repository, as the manifest named it (links not followed). */
  path: string;
  base: DockerfileBase;
}

const toPosix = (p: string) => p.split(sep).join('/') || '.';

/**
 * Finds `dockerfile` relative to the context (a real path inside the checkout), else relative
 * to the application's source path. Either reading that leaves the repository is refused
 * outright: no fall-back ever reads a file outside it.
 */
export function resolveDockerfile(repoRoot: string, sourcePath: string, context: string, dockerfile: string): { full: string; used: DockerfileUsed } {
  const realRoot = realpathSync(repoRoot);
  const readings: { base: DockerfileBase; dir: string }[] = [
    { base: 'context', dir: toPosix(relative(realRoot, context)) },
    { base: 'source', dir: toPosix(posix.normalize(sourcePath)) },
  ];
  const tried: string[] = [];
  for (const { base, dir } of readings) {
    const path = posix.normalize(posix.join(dir, dockerfile));
    if (tried.includes(path)) continue;
    tried.push(path);
    let full: string;
    try {
      full = resolveInRepository(repoRoot, dir, dockerfile, 'dockerfile');
    } catch (err) {
      if (isPathMissing(err)) continue;
      throw err;
    }
    if (statSync(full).isFile()) return { full, used: { path, base } };
  }
  throw new NestorError(
    'NESTOR_PATH_MISSING',
    `dockerfile "${dockerfile}" is not a file in the repository (looked for ${tried.join(' and ')})`,
    'Commit the Dockerfile, or correct `dockerfile` in the manifest: it is read relative to the context first, then relative to the application\'s directory (spec.source.path).',
  );
}
