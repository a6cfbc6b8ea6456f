import { createReadStream } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract, pack, type Pack } from 'tar-stream';

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

/** One part of a joined archive, opened only when its turn comes; undefined: nothing to add. */
export type ArchivePart = () => Promise<NodeJS.ReadableStream | AsyncIterable<Uint8Array> | undefined> | NodeJS.ReadableStream | AsyncIterable<Uint8Array> | undefined;

/**
 * Several tar archives as one, in order, each part's entries under its directory (`under`,
 * '.' or absent: at the root). Concatenating the streams would not do: an archive ends at its
 * first end-of-archive blocks. A later entry of a path overwrites an earlier one when unpacked
 * (a job's artifacts over its checkout). Each part is opened only once the one before it has
 * been read; `done` runs when the joined stream has ended or failed.
 */
export function joinArchives(parts: ArchivePart[], opts: { under?: (index: number) => string; done?: () => Promise<unknown> } = {}): Readable {
  const out = pack();
  void (async () => {
    try {
      for (const [index, part] of parts.entries()) {
        const archive = await part();
        if (!archive) continue;
        const dir = opts.under?.(index) ?? '.';
        const entries = extract();
        entries.on('entry', (header, body, next) => {
          const name = dir === '.' ? header.name : posix.join(dir, header.name);
          if (header.type === 'file' || header.type === 'contiguous-file') return void body.pipe(out.entry({ ...header, name }, next));
          body.resume();
          out.entry({ ...header, name }, next);
        });
        await pipeline(Readable.from(archive as AsyncIterable<Uint8Array>), entries);
      }
      out.finalize();
    } catch (err) {
      out.destroy(err as Error);
    } finally {
      await opts.done?.();
    }
  })();
  return Readable.from(out);
}
