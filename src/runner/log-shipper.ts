import { errorMessage } from '../errors.ts';
import { formatBytes } from '../format-bytes.ts';
import type { LogLine } from '../scheduler/results.ts';
import { isRetryable, type ServerProblem } from './server-client.ts';

export type ShippedLine = Omit<LogLine, 'job'>;

export interface LogShipperOptions {
  /** The lease token every batch names. */
  lease: string;
  /**
   * Sends one batch, the JSON body of the logs call (`{"lease":…,"lines":[…]}`); answers
   * whether the server's cap on the job's log is now reached. The body's memory is reused
   * once the promise settles.
   */
  send(body: Buffer): Promise<{ capReached: boolean }>;
  /** The server answered 409: the job is another runner's now, and nothing more is sent. */
  onLeaseLost(): void;
  maxBatchBytes?: number;
  maxBatchLines?: number;
  maxBufferBytes?: number;
  hardBufferBytes?: number;
}

/** A batch's body at most: a quarter of the server's default 1 MiB body limit. */
export const MAX_BATCH_BYTES = 256 * 1024;
export const MAX_BATCH_LINES = 2000;
/** Past this many bytes buffered, `full()` makes the step's output wait. */
export const MAX_BUFFER_BYTES = 2 * 1024 * 1024;
/**
 * Output that does not wait (a service's) is lost, and counted, past this: the runner's memory
 * stays bounded whatever a job prints.
 */
export const HARD_BUFFER_BYTES = 16 * 1024 * 1024;
const CLOSE = Buffer.from(']}');
const TEXT = Buffer.from(',"text":');
/** Text JSON would escape; text without any is written into the batch as it is. */
const NEEDS_ESCAPE = /["\\\u0000-\u001f]/;

/** Lines serialised into one request body, with where each line ends and its text's size. */
interface Batch {
  buf: Buffer;
  /** Bytes written, the opening `{"lease":…,"lines":[` included. */
  used: number;
  lines: number;
  ends: Uint32Array;
  texts: Uint32Array;
  textBytes: number;
  /** Being sent: nothing more is added to it. */
  sealed: boolean;
}

/**
 * A job's log lines on their way to the server. Each line is serialised at once into a batch
 * buffer, so what waits is a few reused buffers, not a heap of strings and objects that would
 * outlive the young generation and grow the runner's heap by hundreds of MB under a flood.
 * Past MAX_BUFFER_BYTES the step's output waits (`full()`); batches are bounded in bytes and
 * lines and sent one at a time. Only network errors, 5xx, 408, 429 (and a 401 while the runner
 * registers again) keep lines for the next try; a 413 splits the batch; any other 4xx loses the
 * batch and counts it, for the job's result to say so. Once the server says the log's cap is
 * reached, lines are counted here instead of sent.
 */
export class LogShipper {
  private readonly opts: LogShipperOptions;
  private readonly open: Buffer;
  private readonly maxBatchLines: number;
  private readonly maxBufferBytes: number;
  private readonly hardBufferBytes: number;
  /** Lowered by a 413 for the rest of the job: the server's limit is lower than assumed. */
  private batchBytes: number;
  private readonly batches: Batch[] = [];
  private readonly spare: Batch[] = [];
  /** `{"source":…,"stream":…,"time":` per source and stream, made once. */
  private readonly heads = new Map<string, { stdout?: Buffer; stderr?: Buffer }>();
  /** The last line's time as text: lines come many to a millisecond. */
  private time = -1;
  private timeText = '0';
  private bytes = 0;
  private flushing: Promise<void> | undefined;
  private room: PromiseWithResolvers<void> | undefined;
  private stopped = false;
  private capReached = false;
  private lastFailure: unknown;
  /** Lines not sent because the server's cap was reached (the server's last log line counts them). */
  readonly notKept = { lines: 0, bytes: 0 };
  /** Lines the server refused or the buffer could not hold. */
  readonly lost = { lines: 0, bytes: 0, reasons: [] as string[] };

  constructor(opts: LogShipperOptions) {
    this.opts = opts;
    this.open = Buffer.from(`{"lease":${JSON.stringify(opts.lease)},"lines":[`);
    this.batchBytes = opts.maxBatchBytes ?? MAX_BATCH_BYTES;
    this.maxBatchLines = opts.maxBatchLines ?? MAX_BATCH_LINES;
    this.maxBufferBytes = opts.maxBufferBytes ?? MAX_BUFFER_BYTES;
    this.hardBufferBytes = opts.hardBufferBytes ?? HARD_BUFFER_BYTES;
  }

  /** Bytes buffered, for tests and benches. */
  get buffered(): number {
    return this.bytes;
  }

  push(line: ShippedLine): void {
    if (this.stopped) return;
    const text = Buffer.byteLength(line.text);
    if (this.capReached) {
      this.notKept.lines++;
      this.notKept.bytes += text;
      return;
    }
    if (this.bytes >= this.hardBufferBytes) {
      this.lose(1, text, `the runner's log buffer was full (${formatBytes(this.hardBufferBytes)}): output that cannot wait came faster than the server stored it`);
      return;
    }
    // Serialised by hand into the batch: no object, no JSON string per line, only the line's text.
    const head = this.head(line.source, line.stream);
    if (line.time !== this.time) this.timeText = String(Math.max(0, Math.trunc((this.time = line.time))));
    const quoted = NEEDS_ESCAPE.test(line.text) ? JSON.stringify(line.text) : undefined;
    const size = head.length + this.timeText.length + TEXT.length + (quoted === undefined ? text + 2 : Buffer.byteLength(quoted)) + 1;
    let batch = this.batches.at(-1);
    if (!batch || batch.sealed || batch.lines >= this.maxBatchLines || batch.used + 1 + size + CLOSE.length > Math.min(batch.buf.length, this.batchBytes)) {
      batch = this.newBatch(this.open.length + size + CLOSE.length);
    }
    const { buf } = batch;
    const start = batch.used;
    let at = start;
    if (batch.lines) buf[at++] = 0x2c; // ,
    at += head.copy(buf, at);
    at += buf.write(this.timeText, at, 'latin1');
    at += TEXT.copy(buf, at);
    if (quoted === undefined) {
      buf[at++] = 0x22; // "
      at += buf.write(line.text, at, 'utf8');
      buf[at++] = 0x22;
    } else at += buf.write(quoted, at, 'utf8');
    buf[at++] = 0x7d; // }
    batch.used = at;
    batch.ends[batch.lines] = at;
    batch.texts[batch.lines] = text;
    batch.lines++;
    batch.textBytes += text;
    this.bytes += at - start;
    if (this.bytes >= this.batchBytes && !this.flushing) void this.flush();
  }

  /** While the buffer is over its bound, a promise that settles once there is room again. */
  full(): Promise<void> | undefined {
    if (this.stopped || this.bytes < this.maxBufferBytes) return undefined;
    this.room ??= Promise.withResolvers<void>();
    if (!this.flushing) void this.flush();
    return this.room.promise;
  }

  /** Sends what is buffered, one batch at a time; a failure that may pass leaves the rest for the next call. */
  flush(): Promise<void> {
    this.flushing ??= this.sendAll().finally(() => (this.flushing = undefined));
    return this.flushing;
  }

  /** Sends everything, or throws the failure that stopped it (the lines stay, for a retry). */
  async drain(): Promise<void> {
    for (;;) {
      await this.flush();
      if (!this.batches.length || this.stopped) return;
      if (this.lastFailure !== undefined) throw this.lastFailure;
    }
  }

  /** Drops what is buffered and takes no more lines (the job is no longer this runner's). */
  stop(): void {
    this.stopped = true;
    while (this.batches.length) this.shift();
  }

  /** A sentence for the job's error when lines were lost, else undefined. */
  lostNote(): string | undefined {
    if (!this.lost.lines) return undefined;
    return `${this.lost.lines} log lines (${formatBytes(this.lost.bytes)}) could not be stored: ${this.lost.reasons.join('; ')}`;
  }

  private async sendAll(): Promise<void> {
    this.lastFailure = undefined;
    while (this.batches.length && !this.stopped) {
      const batch = this.batches[0]!;
      batch.sealed = true;
      CLOSE.copy(batch.buf, batch.used);
      try {
        const answer = await this.opts.send(batch.buf.subarray(0, batch.used + CLOSE.length));
        this.shift();
        if (answer.capReached && !this.capReached) {
          this.capReached = true;
          while (this.batches.length) {
            this.notKept.lines += this.batches[0]!.lines;
            this.notKept.bytes += this.batches[0]!.textBytes;
            this.shift();
          }
        }
      } catch (err) {
        // A 401 passes once the runner has registered again (its lease loop does).
        if (isRetryable(err) || (err as ServerProblem).status === 401) {
          this.lastFailure = err;
          return;
        }
        const status = (err as ServerProblem).status;
        if (status === 409) {
          this.stop();
          this.opts.onLeaseLost();
          return;
        }
        // Over the server's body limit: the same lines in smaller batches, down to one line.
        if (status === 413 && batch.lines > 1) {
          this.batchBytes = Math.max(4096, Math.floor(batch.used / 2));
          this.split(batch);
          continue;
        }
        this.shift();
        this.lose(batch.lines, batch.textBytes, errorMessage(err));
      }
    }
  }

  private head(source: string, stream: 'stdout' | 'stderr'): Buffer {
    let bySource = this.heads.get(source);
    if (!bySource) this.heads.set(source, (bySource = {}));
    return (bySource[stream] ??= Buffer.from(`{"source":${JSON.stringify(source)},"stream":"${stream}","time":`));
  }

  private newBatch(atLeast: number): Batch {
    const capacity = Math.max(MAX_BATCH_BYTES, this.batchBytes);
    const reused = atLeast <= capacity ? this.spare.pop() : undefined;
    const batch: Batch = reused ?? {
      buf: Buffer.allocUnsafeSlow(Math.max(capacity, atLeast)),
      used: 0,
      lines: 0,
      ends: new Uint32Array(this.maxBatchLines),
      texts: new Uint32Array(this.maxBatchLines),
      textBytes: 0,
      sealed: false,
    };
    Object.assign(batch, { used: this.open.copy(batch.buf, 0), lines: 0, textBytes: 0, sealed: false });
    this.batches.push(batch);
    return batch;
  }

  /** Replaces the first batch by two holding its lines, halves in bytes. */
  private split(batch: Batch): void {
    const begin = this.open.length;
    let mid = batch.ends.subarray(0, batch.lines).findIndex((end) => end - begin >= (batch.used - begin) / 2);
    mid = Math.min(Math.max(mid, 1), batch.lines - 1);
    const parts = [
      { from: begin, to: batch.ends[mid - 1]!, lines: [0, mid] },
      { from: batch.ends[mid - 1]! + 1, to: batch.used, lines: [mid, batch.lines] },
    ].map(({ from, to, lines }) => {
      const buf = Buffer.allocUnsafeSlow(this.open.length + (to - from) + CLOSE.length);
      this.open.copy(buf, 0);
      batch.buf.copy(buf, this.open.length, from, to);
      const shift = this.open.length - from;
      const texts = batch.texts.slice(lines[0], lines[1]);
      const ends = batch.ends.slice(lines[0], lines[1]).map((e) => e + shift);
      return { buf, used: this.open.length + (to - from), lines: texts.length, ends, texts, textBytes: texts.reduce((a, b) => a + b, 0), sealed: true };
    });
    this.release(batch);
    this.batches.splice(0, 1, ...parts);
    // Counted without their openings, as every batch is: the two parts lack only the comma between them.
    this.bytes -= 1;
  }

  /** Removes the first batch, and lets a waiting step go on once there is room. */
  private shift(): void {
    const batch = this.batches.shift();
    if (!batch) return;
    this.bytes -= batch.used - this.open.length;
    this.release(batch);
    if (this.room && (this.stopped || this.bytes < this.maxBufferBytes)) {
      this.room.resolve();
      this.room = undefined;
    }
  }

  private release(batch: Batch): void {
    if (batch.buf.length === Math.max(MAX_BATCH_BYTES, this.batchBytes) && batch.ends.length === this.maxBatchLines && this.spare.length < 4) this.spare.push(batch);
  }

  private lose(lines: number, bytes: number, reason: string): void {
    this.lost.lines += lines;
    this.lost.bytes += bytes;
    if (!this.lost.reasons.includes(reason) && this.lost.reasons.length < 3) this.lost.reasons.push(reason);
  }
}
