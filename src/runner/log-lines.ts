import { Writable } from 'node:stream';

export type StreamName = 'stdout' | 'stderr';

export interface LogLine {
  job: string;
  /** The step or service the line came from (services as `service:NAME`). */
  source: string;
  stream: StreamName;
  /** Milliseconds since the epoch when Nestor received the line. */
  time: number;
  text: string;
}

/** Lines longer than this are cut into pieces: a step printing one huge line stays bounded. */
export const MAX_LINE_BYTES = 64 * 1024;

/**
 * A writable that turns a byte stream into lines, one callback per line, holding at most one
 * partial line in memory: a step that prints 100 MB never has more than 64 KiB buffered here.
 */
export class LineWriter extends Writable {
  private partial = '';
  private readonly onLine: (text: string) => void;
  private readonly full: (() => Promise<void> | undefined) | undefined;
  private readonly marker: EndMarker | undefined;
  /** An empty line held back: it may be the one a gate's marker starts with. */
  private heldEmpty = false;

  /**
   * `full` answers a promise while the lines' consumer wants no more, so the source waits.
   * `marker`: a gated step's end line (`TOKEN:STATUS`, see step-gate.ts) is taken out of the
   * output and reported; so is the newline the gate puts before it.
   */
  constructor(onLine: (text: string) => void, full?: () => Promise<void> | undefined, marker?: EndMarker) {
    super({ decodeStrings: true, highWaterMark: 256 * 1024 });
    this.onLine = onLine;
    this.full = full;
    this.marker = marker;
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    const text = this.partial + chunk.toString('utf8');
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) this.emitLine(line);
    while (this.partial.length > MAX_LINE_BYTES) {
      this.releaseHeld();
      this.onLine(this.partial.slice(0, MAX_LINE_BYTES));
      this.partial = this.partial.slice(MAX_LINE_BYTES);
    }
    const wait = this.full?.();
    if (wait) wait.then(() => done(), done);
    else done();
  }

  override _final(done: (err?: Error | null) => void): void {
    if (this.partial) this.emitLine(this.partial);
    this.partial = '';
    this.releaseHeld();
    done();
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

export interface EndMarker {
  /** `TOKEN:` */
  prefix: string;
  onEnd: (status: number) => void;
}

/**
 * Replaces every secret value in a line with `********`. Multi-line secrets are masked line by
 * line, since logs travel as lines. Longer secrets first, so one that contains another is
 * masked whole.
 */
export class SecretMasker {
  private readonly values: string[];

  constructor(secrets: string[]) {
    this.values = [...new Set(secrets.flatMap((s) => s.split('\n')).map((s) => s.trim()).filter((s) => s.length >= 3))].sort(
      (a, b) => b.length - a.length,
    );
  }

  mask(line: string): string {
    let out = line;
    for (const v of this.values) if (out.includes(v)) out = out.replaceAll(v, '********');
    return out;
  }
}
