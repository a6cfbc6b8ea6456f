import type { Writable } from 'node:stream';

/**
 * Splits Docker's multiplexed attach/log stream (8-byte frame headers: stream type, then a
 * big-endian length) into stdout and stderr, honouring back-pressure: when a destination is
 * full the source is paused until it drains. docker-modem's demuxStream ignores write()'s
 * answer, so a fast container with a slow reader would pile its output up in memory.
 */
export function demuxWithBackpressure(source: NodeJS.ReadableStream, stdout: Writable, stderr: Writable): void {
  let pending: Buffer = Buffer.alloc(0);
  source.on('data', (chunk: Buffer) => {
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    let full = false;
    const waitFor = new Set<Writable>();
    while (pending.length >= 8) {
      const size = pending.readUInt32BE(4);
      if (pending.length < 8 + size) break;
      const target = pending[0] === 2 ? stderr : stdout;
      if (!target.write(pending.subarray(8, 8 + size))) {
        full = true;
        waitFor.add(target);
      }
      pending = pending.subarray(8 + size);
    }
    if (full) {
      source.pause();
      let left = waitFor.size;
      for (const w of waitFor) w.once('drain', () => --left === 0 && source.resume());
    }
  });
}
