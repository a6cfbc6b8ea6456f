import { Writable } from 'node:stream';
import { formatBytes } from '../format-bytes.ts';
import { outputRead } from './gc-pacer.ts';

/** Lines longer than this are cut: what is kept of a huge line, the rest only counted. */
export const MAX_LINE_BYTES = 64 * 1024;

/** The line that follows a cut line's kept part, saying how much was not kept. */
export function cutNote(bytes: number): string {
  return `… [line cut: ${bytes} more bytes (${formatBytes(bytes)}) not kept]`;
}

/**
 * A writable that turns a byte stream into lines, one callback per line, holding at most one
 * partial line (MAX_LINE_BYTES) in memory. A longer line is cut: its first MAX_LINE_BYTES are
 * one line, then one `cutNote` line counts the rest, which is skipped without being kept, so
 * a step printing 100 MB on one line costs 64 KiB here and two log lines, not 1,600 pieces.
 * Lines are split on bytes and decoded whole, so a character split across chunks stays whole.
 */
export class LineWriter extends Writable {
  private partial: Buffer[] = [];
  private partialBytes = 0;
  /** Bytes of the current line skipped after its cut; -1 while the line is not cut. */
  private skipped = -1;
  private readonly onLine: (text: string) => void;
  private readonly full: (() => Promise<void> | undefined) | undefined;
  private readonly marker: EndMarker | undefined;
  /** An empty line held back: it may be the one a gate's marker starts with. */
  private heldEmpty = false;

  /**
   * `full` answers a promise while the lines' consumer wants no more, so the source waits.
   * `marker`: a gated step's end line (`TOKEN:STATUS`, see docker/step-gate.ts) is taken out of the
   * output and reported; so is the newline the gate puts before it.
   */
  constructor(onLine: (text: string) => void, full?: () => Promise<void> | undefined, marker?: EndMarker) {
    super({ decodeStrings: true, highWaterMark: 256 * 1024 });
    this.onLine = onLine;
    this.full = full;
    this.marker = marker;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    let start = 0;
    for (let nl = chunk.indexOf(10); nl !== -1; nl = chunk.indexOf(10, start)) {
      this.take(chunk, start, nl, true);
      start = nl + 1;
    }
    if (start < chunk.length) this.take(chunk, start, chunk.length, false);
    outputRead(chunk.length);
    const wait = this.full?.();
    if (wait) wait.then(() => done(), done);
    else done();
  }

  override _final(done: (err?: Error | null) => void): void {
    if (this.skipped >= 0) this.endCut();
    else if (this.partialBytes) this.emitLine(this.joined().toString('utf8'));
    this.partial = [];
    this.partialBytes = 0;
    this.releaseHeld();
    done();
  }

  /**
   * Bytes `start` to `end` of `chunk`, a piece of the current line; `ends`: a newline followed.
   * Offsets, not a view per line: a million short lines then make a million strings and nothing
   * else, which keeps the runner's young generation from growing under a flood.
   */
  private take(chunk: Buffer, start: number, end: number, ends: boolean): void {
    const length = end - start;
    if (this.skipped >= 0) {
      this.skipped += length;
      if (ends) this.endCut();
      return;
    }
    if (this.partialBytes + length > MAX_LINE_BYTES) {
      this.partial.push(chunk.subarray(start, end));
      const line = this.joined();
      const keep = utf8Boundary(line, MAX_LINE_BYTES);
      this.partial = [];
      this.partialBytes = 0;
      this.releaseHeld();
      this.onLine(line.toString('utf8', 0, keep));
      this.skipped = line.length - keep;
      if (ends) this.endCut();
      return;
    }
    if (!ends) {
      this.partial.push(chunk.subarray(start, end));
      this.partialBytes += length;
      return;
    }
    if (this.partialBytes === 0) return this.emitLine(chunk.toString('utf8', start, end));
    this.partial.push(chunk.subarray(start, end));
    this.emitLine(this.joined().toString('utf8'));
    this.partial = [];
    this.partialBytes = 0;
  }

  private joined(): Buffer {
    return this.partial.length === 1 ? this.partial[0]! : Buffer.concat(this.partial);
  }

  private endCut(): void {
    // Counted as output: a CRLF line's `\r` is among the bytes not kept.
    this.onLine(cutNote(this.skipped));
    this.skipped = -1;
  }

  private emitLine(line: string): void {
    if (this.marker) {
      if (line.startsWith(this.marker.prefix)) {
        this.heldEmpty = false;
        this.marker.onEnd(Number(line.slice(this.marker.prefix.length)));
        return;
      }
      this.releaseHeld();
      this.heldEmpty = line === '';
      if (this.heldEmpty) return;
    }
    this.onLine(line.endsWith('\r') ? line.slice(0, -1) : line);
  }

  private releaseHeld(): void {
    if (this.heldEmpty) this.onLine('');
    this.heldEmpty = false;
  }
}

/** The largest length at most `max` that does not split a UTF-8 character of `buf`. */
export function utf8Boundary(buf: Buffer, max: number): number {
  if (buf.length <= max) return buf.length;
  let k = max;
  // Continuation bytes are 10xxxxxx: back off to the start of the character at `max`.
  while (k > 0 && max - k < 4 && (buf[k]! & 0xc0) === 0x80) k--;
  return k;
}

export interface EndMarker {
  /** `TOKEN:` */
  prefix: string;
  onEnd: (status: number) => void;
}
