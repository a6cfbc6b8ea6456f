import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pack, type Pack } from 'tar-stream';

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
    const gitDir = await walk(dir, '.git').catch(() => []);
    return [...gitDir, ...files];
  } catch {
    return walk(dir, '');
  }
}

async function walk(root: string, rel: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(join(root, rel), { withFileTypes: true });
  for (const e of entries) {
    const path = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await walk(root, path)));
    else out.push(path);
  }
  return out;
}

/** A tar stream of `files` under `dir`, read one file at a time (nothing held in memory). */
export function sourceArchive(dir: string, files: string[]): Pack {
  const tar = pack();
  void (async () => {
    try {
      for (const file of files) {
        const full = join(dir, file);
        const st = await lstat(full).catch(() => undefined);
        if (!st) continue; // deleted since it was listed
        if (st.isSymbolicLink()) {
          tar.entry({ name: file, type: 'symlink', linkname: await readlink(full), mode: st.mode });
        } else if (st.isFile()) {
          await new Promise<void>((resolve, reject) => {
            const entry = tar.entry({ name: file, size: st.size, mode: st.mode, mtime: st.mtime }, (err) => (err ? reject(err) : resolve()));
            createReadStream(full).on('error', reject).pipe(entry);
          });
        }
      }
      tar.finalize();
    } catch (err) {
      tar.destroy(err as Error);
    }
  })();
  return tar;
}
