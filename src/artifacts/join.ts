import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract, pack } from 'tar-stream';

/** One part of a joined archive, opened only when its turn comes; undefined: nothing to add. */
export type ArchivePart = () => Promise<NodeJS.ReadableStream | AsyncIterable<Uint8Array> | undefined> | NodeJS.ReadableStream | AsyncIterable<Uint8Array> | undefined;

/**
 * Several tar archives as one, in order: a job's workspace is its source with the artifacts of
 * the jobs it needs unpacked over it, and one tar stream is what a backend's set-up takes.
 * Concatenating the streams would not do: an archive ends at its first end-of-archive blocks.
 * A later entry of the same path overwrites an earlier one when unpacked, as GitLab's
 * artifacts overwrite the checkout. Each part is read only once the one before it has been.
 */
export function joinArchives(parts: ArchivePart[]): Readable {
  const out = pack();
  void (async () => {
    try {
      for (const part of parts) {
        const archive = await part();
        if (!archive) continue;
        const entries = extract();
        entries.on('entry', (header, body, next) => {
          if (header.type === 'file' || header.type === 'contiguous-file') return void body.pipe(out.entry(header, next));
          body.resume();
          out.entry(header, next);
        });
        await pipeline(Readable.from(archive as AsyncIterable<Uint8Array>), entries);
      }
      out.finalize();
    } catch (err) {
      out.destroy(err as Error);
    }
  })();
  return Readable.from(out);
}
