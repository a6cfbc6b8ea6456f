import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { githubPatternMatches } from './filter-pattern.ts';

/**
 * `hashFiles(patterns…)` as GitHub's runner computes it: the files of the workspace that match
 * (a `!pattern` takes files back out), in path order, each hashed with SHA-256 and those hashes
 * hashed again; '' when none matches. Nestor reads them in the run's source, which is what the
 * workspace holds when the job starts: the lockfiles and manifests cache keys are made from.
 */
export function hashFilesIn(root: string): (patterns: string[]) => string {
  let files: string[] | undefined;
  return (patterns) => {
    files ??= listFiles(root);
    const include = patterns.filter((p) => !p.startsWith('!')).map(clean);
    const exclude = patterns.filter((p) => p.startsWith('!')).map((p) => clean(p.slice(1)));
    const chosen = files.filter((f) => include.some((p) => githubPatternMatches(f, p)) && !exclude.some((p) => githubPatternMatches(f, p)));
    if (chosen.length === 0) return '';
    const all = createHash('sha256');
    for (const f of chosen) all.update(createHash('sha256').update(readFileSync(join(root, f))).digest());
    return all.digest('hex');
  };
}

/** A pattern relative to the workspace: GitHub writes them with or without `./` or the workspace path. */
function clean(pattern: string): string {
  return pattern.replace(/^(\/github\/workspace\/|\.\/)/, '');
}

/** The files the workspace gets: in a repository, what git tracks or would (as the source archive takes them). */
function listFiles(root: string): string[] {
  const git = spawnSync('git', ['-C', root, 'ls-files', '-z', '--cached', '--others', '--exclude-standard'], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
  if (git.status === 0) return git.stdout.split('\0').filter((f) => f && existsSync(join(root, f))).sort();
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      if (e.name === '.git') continue;
      const path = join(dir, e.name);
      if (e.isDirectory()) walk(path);
      else if (e.isFile()) out.push(relative(root, path));
    }
  };
  walk(root);
  return out.sort();
}
