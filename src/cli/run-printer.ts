import type { JobEvent, JobResult, LogLine, StepResult } from '../scheduler/results.ts';
import type { Output } from './output.ts';

const PALETTE = ['36', '35', '34', '33', '32', '96', '95', '94'];

/**
 * What `nestor run` shows: live lines prefixed by their step (stderr marked with `!`), step
 * starts and ends, and a summary table; or, with --json, one JSON object per line.
 */
export class RunPrinter {
  private readonly out: Output;
  private readonly withJob: boolean;
  private readonly colours = new Map<string, string>();
  private readonly colour = Boolean(process.stdout.isTTY) && !process.env.NO_COLOR;

  constructor(out: Output, withJob: boolean) {
    this.out = out;
    this.withJob = withJob;
  }

  private closed = false;

  /** Stops writing to stdout (its reader has gone). */
  close(): void {
    this.closed = true;
  }

  /** While stdout's reader is behind, a promise that settles when it has caught up. */
  full(): Promise<void> | undefined {
    if (this.closed || !process.stdout.writableNeedDrain) return undefined;
    // One wait shared by every stream that is held back, not one listener each.
    this.drained ??= new Promise<void>((resolve) => process.stdout.once('drain', () => resolve())).finally(() => (this.drained = undefined));
    return this.drained;
  }

  private drained: Promise<void> | undefined;

  private write(text: string): void {
    if (!this.closed) process.stdout.write(text);
  }

  private json(value: unknown): void {
    this.write(`${JSON.stringify(value)}\n`);
  }

  private prefix(job: string, source: string): string {
    const label = this.withJob ? `${job}/${source}` : source;
    if (!this.colour) return label;
    if (!this.colours.has(label)) this.colours.set(label, PALETTE[this.colours.size % PALETTE.length]!);
    return `\x1b[${this.colours.get(label)}m${label}\x1b[0m`;
  }

  log(line: LogLine): void {
    if (this.out.json) return this.json({ type: 'log', ...line, time: new Date(line.time).toISOString() });
    this.write(`${this.prefix(line.job, line.source)} ${line.stream === 'stderr' ? '!' : '|'} ${line.text}\n`);
  }

  notice(text: string): void {
    if (this.out.json) return this.json({ type: 'notice', text });
    this.out.progress(`nestor: ${text}`);
  }

  event(e: JobEvent): void {
    if (this.out.json) return this.json(e);
    if (e.type === 'notice') return this.out.progress(`nestor: ${this.withJob ? `[${e.job}] ` : ''}${e.text}`);
    const s = e.step;
    if (s.status === 'running') this.out.progress(`▶ ${this.withJob ? `${e.job}/` : ''}${s.name}`);
    else if (s.status === 'skipped') this.out.progress(`○ ${s.name} skipped: ${s.reason ?? ''}`);
  }

  summary(results: JobResult[]): void {
    if (this.out.json) return this.json({ type: 'result', status: overall(results), jobs: results });
    for (const job of results) {
      this.out.line();
      const allowed = job.allowedFailure ? this.out.yellow(' (allowed: continue-on-error)') : '';
      this.out.line(`${this.out.bold(job.name)}  ${this.status(job.status)}${allowed}  ${seconds(job.durationMs)}${job.engine ? this.out.dim(`  engine ${job.engine}`) : ''}`);
      if (job.error) this.out.line(`  ${this.out.red('error')} ${job.error}`);
      if (job.notRunBecause) this.out.line(`  ${this.out.dim(`not run: ${job.notRunBecause}`)}`);
      const width = Math.max(4, ...job.steps.map((s) => s.name.length));
      for (const s of job.steps) this.out.line(`  ${s.name.padEnd(width)}  ${this.status(s.status).padEnd(this.colour ? 18 : 9)}  ${seconds(s.durationMs).padStart(7)}${detail(s)}`);
    }
  }

  private status(status: string): string {
    const mark = ({ success: this.out.green, failure: this.out.red, timeout: this.out.red, ignored: this.out.yellow, cancelled: this.out.yellow, skipped: this.out.dim } as Record<string, (t: string) => string>)[status];
    return mark ? mark(status) : this.out.dim(status);
  }
}

function overall(results: JobResult[]): string {
  if (results.some((r) => r.status === 'cancelled')) return 'cancelled';
  return results.some((r) => r.status === 'failure' && !r.allowedFailure) ? 'failure' : 'success';
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)}s`;
}

function detail(s: StepResult): string {
  return s.reason && s.status !== 'success' ? `  ${s.reason}` : '';
}
