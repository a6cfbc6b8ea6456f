import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { pack, type Pack } from 'tar-stream';

export interface ArchiveEntry {
  name: string;
  content: string | Buffer;
  mode?: number;
}

/** A tar archive in memory, for `putArchive` of a few small files (certificates, scripts). */
export async function tarOf(entries: ArchiveEntry[]): Promise<Buffer> {
  const tar = pack();
  const chunks: Buffer[] = [];
  tar.on('data', (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const done = new Promise<void>((resolve, reject) => {
    tar.on('end', resolve);
    tar.on('error', reject);
  });
  for (const e of entries) tar.entry({ name: e.name, mode: e.mode ?? 0o644 }, e.content);
  tar.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** Every file and link under `root/rel`, as paths relative to `root` with forward slashes. */
export async function listFiles(root: string, rel = ''): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(join(root, rel), { withFileTypes: true });
  for (const e of entries) {
    const path = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(root, path)));
    else out.push(path);
  }
  return out;
}

/** A tar stream of `files` under `dir`, read one file at a time (nothing held in memory). */
export function filesArchive(dir: string, files: string[], extra: ArchiveEntry[] = []): Pack {
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
      for (const e of extra) tar.entry({ name: e.name, mode: e.mode ?? 0o644 }, e.content);
      tar.finalize();
    } catch (err) {
      tar.destroy(err as Error);
    }
  })();
  return tar;
}
