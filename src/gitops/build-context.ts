import dockerignoreModule, { type Ignore } from '@balena/dockerignore';
import { existsSync, lstatSync, readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import type { Pack } from 'tar-stream';
import { filesArchive, listFiles } from '../engine/archive.ts';
import { resolveDockerfile, type DockerfileUsed } from './dockerfile.ts';
import { PathEscapeError, inside, linkStaysInside, resolveInRepository } from './repo-paths.ts';

// A CommonJS module whose typings TypeScript reads as a namespace; at run time it is the factory.
const dockerignore = dockerignoreModule as unknown as (options?: { ignorecase?: boolean }) => Ignore;

/** Where a Dockerfile kept outside its context travels inside the context archive. */
const OUTSIDE_DOCKERFILE = '.nestor.Dockerfile';

export interface BuildContext {
  archive: Pack;
  /** The Dockerfile's path inside the archive, for the Engine API's `dockerfile` parameter. */
  dockerfile: string;
  /** Which Dockerfile of the repository was sent, and which reading of `dockerfile` found it. */
  used: DockerfileUsed;
}

/**
 * The build context of one function as the Docker CLI would send it: the context directory
 * less what `.dockerignore` excludes (the Dockerfile and .dockerignore always go), refused
 * when the context or Dockerfile leave the repository or a link inside points out of it.
 */
export async function buildContext(repoRoot: string, sourcePath: string, spec: { context: string; dockerfile: string }): Promise<BuildContext> {
  const context = resolveInRepository(repoRoot, sourcePath, spec.context, 'context');
  if (!lstatSync(context).isDirectory()) throw new PathEscapeError('context', spec.context, 'is not a directory');
  const { full: dockerfilePath, used } = resolveDockerfile(repoRoot, sourcePath, context, spec.dockerfile);

  const ignorePath = join(context, '.dockerignore');
  const rules = dockerignore({ ignorecase: false });
  if (existsSync(ignorePath)) rules.add(readFileSync(ignorePath, 'utf8'));
  const all = await listFiles(context);
  const dockerfileRel = relative(context, dockerfilePath).split(sep).join('/');
  const keep = all.filter((f) => f === '.dockerignore' || f === dockerfileRel || !rules.ignores(f));
  for (const f of keep) {
    const full = join(context, f);
    if (lstatSync(full).isSymbolicLink() && !linkStaysInside(repoRoot, full)) throw new PathEscapeError('context file', f, 'is a symbolic link that leads out of the repository');
  }
  if (inside(context, dockerfilePath)) return { archive: filesArchive(context, keep), dockerfile: dockerfileRel, used };
  return { archive: filesArchive(context, keep, [{ name: OUTSIDE_DOCKERFILE, content: readFileSync(dockerfilePath) }]), dockerfile: OUTSIDE_DOCKERFILE, used };
}
