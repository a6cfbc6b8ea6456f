import v8 from 'node:v8';
import vm from 'node:vm';

/**
 * Output read between two young-generation collections the runner asks for.
 *
 * Every read from a container's output stream is a new buffer outside the JS heap. V8 frees
 * dead ones only when it collects, and it collects for outside memory only after about 64 MB
 * more: a step printing 100 MB that the runner drops as fast as it comes (one huge line) grew
 * the runner by 60 MB of garbage. A scavenge every 4 MB read costs about 1 ms and bounds that.
 */
export const GC_PACE_BYTES = 4 * 1024 * 1024;

type Gc = (options: { type: 'minor' | 'major' }) => void;
let gc: Gc | null | undefined;
let sinceGc = 0;

/** V8's `gc`, exposed for this one purpose; null where it cannot be had. */
function collector(): Gc | null {
  if (gc !== undefined) return gc;
  try {
    v8.setFlagsFromString('--expose-gc');
    gc = vm.runInNewContext('gc') as Gc;
  } catch {
    gc = null;
  }
  return gc;
}

/** Notes `bytes` of output read; collects the young generation every GC_PACE_BYTES. */
export function outputRead(bytes: number): void {
  sinceGc += bytes;
  if (sinceGc < GC_PACE_BYTES) return;
  sinceGc = 0;
  collector()?.({ type: 'minor' });
}
