import { EventEmitter } from 'node:events';
import { errorMessage } from '../errors.ts';
import type { NestedEngine } from './nested/nested-engine.ts';
import { provision, type ProvisionOptions } from './nested/provision.ts';
import { BackgroundWork } from '../background-work.ts';

export interface PoolOptions {
  /** Engines kept ready. */
  size: number;
  /** How each engine is made; the pool adds nothing of its own. */
  engine?: ProvisionOptions;
  /**
   * Readies a new engine further before it joins the pool (e.g. starts a job's first
   * container ahead). A failure is reported as an `error` event; the engine is used anyway.
   */
  prepare?: (engine: NestedEngine) => Promise<void>;
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
export class EnginePool extends EventEmitter {
  private readonly ready: NestedEngine[] = [];
  private starting = 0;
  private closed = false;
  private readonly inFlight = new BackgroundWork();
  private readonly make: (opts: ProvisionOptions) => Promise<NestedEngine>;
  private consecutiveFailures = 0;

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

  async acquire(): Promise<NestedEngine> {
    if (this.closed) throw new Error('the engine pool is closed');
    const engine = this.ready.shift();
    this.refill();
    if (engine) return engine;
    return this.make(this.options.engine ?? {});
  }

  /** Destroys an engine a job has finished with. Never returns it to the pool. */
  async release(engine: NestedEngine): Promise<void> {
    await engine.destroy();
  }

  async close(): Promise<void> {
    this.closed = true;
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

  private reportError(err: unknown): void {
    if (this.listenerCount('error')) this.emit('error', err instanceof Error ? err : new Error(errorMessage(err)));
  }

  private startOne(): Promise<unknown> {
    this.starting++;
    // Starting engines one after another after failures keeps a broken host from being hammered.
    const delay = this.consecutiveFailures ? Math.min(30_000, 500 * 2 ** this.consecutiveFailures) : 0;
    const job = new Promise((r) => setTimeout(r, delay))
      .then(() => this.make(this.options.engine ?? {}))
      .then(
        async (engine) => {
          this.consecutiveFailures = 0;
          if (this.closed) return engine.destroy();
          await this.options.prepare?.(engine).catch((err: unknown) => this.reportError(err));
          if (this.closed) return engine.destroy();
          this.ready.push(engine);
          this.emit('ready', engine);
        },
        (err: unknown) => {
          this.consecutiveFailures++;
          this.reportError(err);
        },
      )
      .finally(() => {
        this.starting--;
        if (this.consecutiveFailures > 0 && this.consecutiveFailures < 6) this.refill();
      });
    return this.inFlight.add(job);
  }
}
