import { EventEmitter } from 'node:events';
import { NestorError, errorMessage } from '../errors.ts';
import type { NestedEngine } from './nested/nested-engine.ts';
import { provision, type ProvisionOptions } from './nested/provision.ts';
import { BackgroundWork } from '../background-work.ts';
import { sleep } from '../sleep.ts';
import { backoffDelay, type Backoff } from '../backoff.ts';

export interface PoolOptions {
  /** Engines kept ready. */
  size: number;
  /** How each engine is made; the pool adds nothing of its own. */
  engine: ProvisionOptions;
  /**
   * Readies a new engine further before it joins the pool (e.g. starts a job's first
   * container ahead). A failure is reported as an `error` event; the engine is used anyway.
   */
  /** Readies a started engine before it is handed out; `signal` aborts when the pool closes. */
  prepare?: (engine: NestedEngine, signal: AbortSignal) => Promise<void>;
  /**
   * A ready engine unused for this long is frozen until it is acquired (default 5 s; 0: never).
   * A warm engine's dockerd and containerd wake many times a second even when idle.
   */
  pauseIdleAfterMs?: number;
  /** Replaceable for tests of the pool's own logic. */
  provision?: (opts: ProvisionOptions) => Promise<NestedEngine>;
}

/**
 * Keeps `size` nested engines started and ready. `acquire` hands one out at once when one is
 * ready, or starts one cold when none is; either way the pool refills in the background.
 * An engine leaves the pool for good: `release` destroys it, so no job ever sees another's
 * images, containers or volumes.
 *
 * Events: `ready` (engine), `error` (Error) for a failed background start.
 */
/** Engine starts after failures: 500 ms doubled per failure, at most 30 s. */
const START_RETRY: Backoff = { base: 500, max: 30_000 };

/** What a closed pool answers: it closes when Nestor stops, so a wait for an engine ends. */
function closedError(): NestorError {
  return new NestorError('NESTOR_STOPPING', 'The engine pool is closed', 'Nothing to do: Nestor is stopping, and the job is requeued or fails with it.');
}

export class EnginePool extends EventEmitter {
  private readonly ready: NestedEngine[] = [];
  /** Timers that freeze ready engines left unused. */
  private readonly pauseTimers = new Map<NestedEngine, NodeJS.Timeout>();
  /** Jobs waiting for an engine already starting, served in order as each becomes ready. */
  private readonly waiters: PromiseWithResolvers<NestedEngine>[] = [];
  private starting = 0;
  private closed = false;
  private readonly inFlight = new BackgroundWork();
  private readonly make: (opts: ProvisionOptions) => Promise<NestedEngine>;
  private consecutiveFailures = 0;
  /** Cuts short the pause before a retried start, so closing never waits it out. */
  private readonly closing = new AbortController();

  private readonly options: PoolOptions;

  constructor(options: PoolOptions) {
    super();
    this.options = options;
    this.make = options.provision ?? provision;
  }

  /** Starts the pool filling; resolves when it is full (or a start failed). */
  async start(): Promise<void> {
    await Promise.allSettled(this.refill());
  }

  get available(): number {
    return this.ready.length;
  }

  get pending(): number {
    return this.starting;
  }

  /**
   * A ready engine at once; else the next of those already starting (a second cold start beside
   * it would only make both slower on a busy host); else one started cold for this caller.
   */
  async acquire(signal?: AbortSignal): Promise<NestedEngine> {
    if (this.closed) throw closedError();
    const engine = this.ready.shift();
    this.refill();
    if (engine) {
      clearTimeout(this.pauseTimers.get(engine));
      this.pauseTimers.delete(engine);
      try {
        await engine.resume();
        this.foreground(engine);
        return engine;
      } catch (err) {
        // A frozen engine that cannot be thawed is no use to anyone: the job gets another.
        this.reportError(err);
        void engine.destroy().catch(() => undefined);
        return this.acquire(signal);
      }
    }
    if (this.starting > this.waiters.length) {
      const waiter = Promise.withResolvers<NestedEngine>();
      this.waiters.push(waiter);
      // A caller that gives up stops waiting at once; the engine it waited for stays warm for the next.
      const giveUp = () => {
        const at = this.waiters.indexOf(waiter);
        if (at >= 0) this.waiters.splice(at, 1);
        waiter.reject(signal?.reason ?? new Error('stopped waiting for an engine'));
      };
      signal?.addEventListener('abort', giveUp, { once: true });
      return waiter.promise.finally(() => signal?.removeEventListener('abort', giveUp));
    }
    return this.make(this.options.engine);
  }

  /** Destroys an engine a job has finished with. Never returns it to the pool. */
  async release(engine: NestedEngine): Promise<void> {
    await engine.destroy();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.closing.abort();
    for (const w of this.waiters.splice(0)) w.reject(closedError());
    for (const t of this.pauseTimers.values()) clearTimeout(t);
    this.pauseTimers.clear();
    await this.inFlight.settled();
    const engines = this.ready.splice(0);
    await Promise.allSettled(engines.map((e) => e.destroy()));
  }

  /** Starts engines until the pool will be full; answers those starts. */
  private refill(): Promise<unknown>[] {
    if (this.closed) return [];
    const missing = this.options.size - this.ready.length - this.starting;
    return Array.from({ length: Math.max(0, missing) }, () => this.startOne());
  }

  private pauseWhenIdle(engine: NestedEngine): void {
    const after = this.options.pauseIdleAfterMs ?? 5000;
    if (after <= 0) return;
    const timer = setTimeout(() => {
      this.pauseTimers.delete(engine);
      if (this.ready.includes(engine)) void engine.pause().catch((err: unknown) => this.reportError(err));
    }, after);
    timer.unref();
    this.pauseTimers.set(engine, timer);
  }

  /**
   * The engine a job now has gets its full CPU weight, off the handout: a host call of tens of
   * milliseconds that the job need not wait for (its first work is inside the engine).
   */
  private foreground(engine: NestedEngine): void {
    engine.foreground().catch((err: unknown) => this.reportError(err));
  }

  private reportError(err: unknown): void {
    if (this.listenerCount('error')) this.emit('error', err instanceof Error ? err : new Error(errorMessage(err)));
  }

  private startOne(): Promise<unknown> {
    this.starting++;
    // Starting engines one after another after failures keeps a broken host from being hammered.
    const delay = this.consecutiveFailures ? backoffDelay(this.consecutiveFailures, START_RETRY) : 0;
    const job = sleep(delay, this.closing.signal)
      .then(() => (this.closed ? undefined : this.make({ ...this.options.engine, background: true })))
      .then(
        async (engine) => {
          if (!engine) return;
          this.consecutiveFailures = 0;
          if (this.closed) return engine.destroy();
          await this.options.prepare?.(engine, this.closing.signal).catch((err: unknown) => {
            if (!this.closed) this.reportError(err); // stopped by close: not a failure
          });
          if (this.closed) return engine.destroy();
          this.emit('ready', engine);
          const waiter = this.waiters.shift();
          if (waiter) {
            this.foreground(engine);
            waiter.resolve(engine);
          } else {
            this.ready.push(engine);
            this.pauseWhenIdle(engine);
          }
        },
        (err: unknown) => {
          this.consecutiveFailures++;
          this.reportError(err);
          // A job waiting for this start is not left waiting on a broken one: it starts its own.
          const waiter = this.waiters.shift();
          if (waiter && !this.closed) this.make(this.options.engine).then(waiter.resolve, waiter.reject);
        },
      )
      .finally(() => {
        this.starting--;
        // Refills after an engine went straight to a waiting job, and retries failed starts (a few times).
        if (this.consecutiveFailures < 6) this.refill();
      });
    return this.inFlight.add(job);
  }
}
