import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { filesArchive, listFiles } from '../engine/archive.ts';

const run = promisify(execFile);

/**
 * The files of a source directory, as `git` sees them when it is a repository (tracked plus
 * untracked-but-not-ignored: what the user would commit), otherwise every file. `.git` itself
 * is included so that steps can ask Git about the commit.
 */
export async function sourceFiles(dir: string): Promise<string[]> {
  try {
    const { stdout } = await run('git', ['-C', dir, 'ls-files', '-z', '--cached', '--others', '--exclude-standard'], { maxBuffer: 256 * 1024 * 1024 });
    const files = stdout.split('\0').filter(Boolean);
    const gitDir = await listFiles(dir, '.git').catch(() => []);
    return [...gitDir, ...files];
  } catch {
    return listFiles(dir);
  }
}

/** The source directory as a tar stream for the workspace; nothing at all when it has no files. */
export async function* sourceContent(dir: string): AsyncIterable<Uint8Array> {
  const files = await sourceFiles(dir);
  if (files.length) yield* filesArchive(dir, files) as AsyncIterable<Uint8Array>;
}
