import { pack } from 'tar-stream';

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
