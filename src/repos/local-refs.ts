import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { localRepoPath } from '../gitops/repo-url.ts';

const SHA = /^[0-9a-f]{40,64}$/;

/**
 * The branches and tags of a repository on this machine's disk, read from its files: a poll of a
 * thousand local repositories then costs no process at all. Loose refs override packed ones, as
 * Git reads them; symbolic refs are left out. An annotated tag packed with its peeled commit is
 * given as that commit; a loose one as its tag object (the pipeline resolves it when fetching).
 */
export function localRefs(url: string): Record<string, string> {
  const path = localRepoPath(url);
  const gitDir = existsSync(join(path, '.git')) ? join(path, '.git') : path;
  const refs: Record<string, string> = {};
  let packed = '';
  try {
    packed = readFileSync(join(gitDir, 'packed-refs'), 'utf8');
  } catch {
    // no packed refs: a fresh repository
  }
  let last: string | undefined;
  for (const line of packed.split('\n')) {
    if (line.startsWith('^') && last && SHA.test(line.slice(1))) refs[last] = line.slice(1);
    const [sha, ref] = line.split(' ');
    if (sha && ref && SHA.test(sha) && /^refs\/(heads|tags)\//.test(ref)) {
      refs[ref] = sha;
      last = ref;
    } else if (!line.startsWith('^')) last = undefined;
  }
  for (const top of ['refs/heads', 'refs/tags']) walk(join(gitDir, top), top, refs);
  return refs;
}

function walk(dir: string, ref: string, refs: Record<string, string>): void {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return;
  }
  for (const name of names) {
    const path = join(dir, name);
    const full = `${ref}/${name}`;
    if (statSync(path).isDirectory()) walk(path, full, refs);
    else {
      const sha = readFileSync(path, 'utf8').trim();
      if (SHA.test(sha)) refs[full] = sha;
    }
  }
}
