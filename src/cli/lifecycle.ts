import { NestorError } from '../errors.ts';
import type { Output } from './output.ts';

/** Thrown where a command notices that it was asked to stop between two steps of its start. */
export class StoppingError extends NestorError {
  constructor() {
    super('NESTOR_STOPPING', 'Stopped by a signal before the start was complete', 'Nothing to do: what had started was removed.');
  }
}

/**
 * The life of a long-running command from its first line: SIGINT/SIGTERM are caught from the
 * moment it exists (so a signal during start-up never kills the process with engines in
 * flight), each part the command starts is registered with how to stop it, and on a signal or
 * at the end every part is stopped, newest first, each after what it depends on started.
 * A second signal while stopping leaves at once, saying what may be left.
 */
export class Lifecycle {
  private readonly controller = new AbortController();
  private readonly stops: { what: string; stop: () => Promise<void> }[] = [];
  private stopping: Promise<void> | undefined;
  private readonly late: Promise<void>[] = [];
  private signals = 0;
  private readonly out: Output;
  private readonly handler = () => this.onSignal();

  constructor(out: Output) {
    this.out = out;
    process.on('SIGINT', this.handler);
    process.on('SIGTERM', this.handler);
  }

  /** Aborted at the first signal. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /**
   * Registers a started part and answers it; `stop` runs at the end, before what was owned
   * earlier. A part whose start finished after the stopping began is stopped at once.
   */
  own<T>(part: T, what: string, stop: (part: T) => Promise<void>): T {
    const entry = { what, stop: () => stop(part) };
    if (this.stopping) this.late.push(this.stopOne(entry));
    else this.stops.push(entry);
    return part;
  }

  /** Between steps of a start: give up if a signal came meanwhile (what started is stopped by `close`). */
  check(): void {
    if (this.signal.aborted) throw new StoppingError();
  }

  /** Resolves at the first signal. */
  untilSignal(): Promise<void> {
    if (this.signal.aborted) return Promise.resolve();
    return new Promise((resolve) => this.signal.addEventListener('abort', () => resolve(), { once: true }));
  }

  /** Stops every registered part, newest first; failures are reported and do not stop the rest. */
  async close(): Promise<void> {
    this.stopping ??= (async () => {
      for (const entry of this.stops.splice(0).reverse()) await this.stopOne(entry);
    })();
    await this.stopping;
    await Promise.all(this.late);
    process.off('SIGINT', this.handler);
    process.off('SIGTERM', this.handler);
  }

  private async stopOne({ what, stop }: { what: string; stop: () => Promise<void> }): Promise<void> {
    try {
      await stop();
    } catch (err) {
      this.out.progress(`could not stop ${what}: ${err instanceof Error ? err.message : String(err)}; \`nestor engine cleanup\` removes what is left`);
    }
  }

  private onSignal(): void {
    if (++this.signals > 1) {
      this.out.progress('second interrupt: leaving now; `nestor engine cleanup` removes anything left');
      process.exit(130);
    }
    this.out.progress('stopping: finishing requests, removing engines and function instances…');
    this.controller.abort();
    // Stopping starts now, not when the command's start-up reaches its next step: a runner
    // still trying to register, say, is told to give up.
    void this.close();
  }
}

/**
 * Runs a long-running command's body inside a Lifecycle and always closes it, whether the body
 * returned, threw, or was stopped by a signal; a signal during the start is not an error.
 */
export async function withLifecycle(out: Output, body: (life: Lifecycle) => Promise<number>): Promise<number> {
  const life = new Lifecycle(out);
  try {
    return await body(life);
  } catch (err) {
    if (err instanceof StoppingError || life.signal.aborted) return 0;
    throw err;
  } finally {
    await life.close();
    // Whatever still holds the event loop (a keep-alive socket to a removed engine) must not
    // keep a stopped process alive; the timer itself keeps nothing alive.
    setTimeout(() => process.exit(process.exitCode ?? 0), 2000).unref();
  }
}
