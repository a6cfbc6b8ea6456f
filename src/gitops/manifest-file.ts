import { readFileSync } from 'node:fs';
import { posix } from 'node:path';
import { NestorError } from '../errors.ts';
import { MANIFEST_FILES } from './manifest.ts';
import { isPathMissing, resolveInRepository } from './repo-paths.ts';

export interface ManifestFile {
  /** Where it is in the repository, as problems and build logs name it. */
  file: string;
  text: string;
  /** Another manifest in the same directory that is not read (nestor.yaml wins). */
  ignored?: string;
}

/**
 * The application's manifest in a checkout: `nestor.yaml` in the source path, else the
 * Zerverless `zerverless.yaml`. Each is resolved like any repository path, so a manifest that
 * is a link out of the repository is refused, not read.
 */
export function readManifestFile(root: string, sourcePath: string): ManifestFile {
  const present: { name: string; full: string }[] = [];
  for (const name of MANIFEST_FILES) {
    try {
      present.push({ name, full: resolveInRepository(root, sourcePath, name, 'manifest') });
    } catch (err) {
      if (!isPathMissing(err)) throw err;
    }
  }
  const dir = posix.normalize(sourcePath);
  const shown = (name: string) => posix.join(dir, name);
  const [chosen, other] = present;
  if (!chosen) {
    throw new NestorError(
      'NESTOR_MANIFEST_MISSING',
      `No ${MANIFEST_FILES.join(' or ')} in ${dir === '.' ? '' : `${dir}/ of `}the repository`,
      'Commit a nestor.yaml (or zerverless.yaml) there, or point the application\'s path (spec.source.path, `apps add --path`) at the directory that has one.',
    );
  }
  return { file: shown(chosen.name), text: readFileSync(chosen.full, 'utf8'), ...(other ? { ignored: shown(other.name) } : {}) };
}
