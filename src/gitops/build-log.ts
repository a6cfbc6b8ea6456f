import type { AppRecord, GitopsStore } from './store.ts';

/** Build output, appended to the deployment in batches instead of one write per line. */
export class BuildLog {
  private buffer = '';
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private readonly store: GitopsStore;
  private readonly app: AppRecord;
  private readonly seq: () => number | undefined;
  private readonly redact: (text: string) => string;

  constructor(store: GitopsStore, app: AppRecord, seq: () => number | undefined, redact: (text: string) => string) {
    this.store = store;
    this.app = app;
    this.seq = seq;
    this.redact = redact;
  }

  private readonly started = performance.now();

  /** Nestor's own lines carry the time since the sync began, so slow phases show. */
  write(text: string): void {
    this.buffer += text.startsWith('[nestor] ') ? `[nestor +${Math.round(performance.now() - this.started)} ms] ${text.slice(9)}` : text;
    this.timer ??= setTimeout(() => void this.flush(), 300);
  }

  flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const seq = this.seq();
    if (seq === undefined || !this.buffer) return this.chain;
    // Redacted as a whole, not per write: a secret may arrive cut across two chunks of output.
    const text = this.redact(this.buffer);
    this.buffer = '';
    this.chain = this.chain.then(() => this.store.appendBuildLog(this.app.namespace, this.app.name, seq, text)).catch(() => undefined);
    return this.chain;
  }
}
