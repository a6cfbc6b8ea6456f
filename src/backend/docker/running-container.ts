import type Docker from 'dockerode';
import type { ContainerExit, RunningContainer, ShellOptions, ShellSession } from '../backend.ts';
import { execShell, holdEnded, type ShellPlace } from './shell-session.ts';

/** How a started container's end is known besides the engine's own wait. */
export interface ContainerEnd {
  /** Settles once its output has ended (it has stopped). */
  ended: Promise<void>;
  /** A gated step's status as its gate reports it, which comes before the engine reports the exit. */
  finished?: Promise<number>;
}

/** What a container needs of its job. */
export interface ContainerJob {
  /** Whether the engine is thrown away after the job, taking every container along. */
  disposable: boolean;
  /** Aborts when the job is torn down. */
  torn: AbortSignal;
}

/**
 * What every started step or service shares, whatever runs it: stopped (`stop`) when its
 * start's signal aborts, waited for once, and given up on when the job is torn down (a cancel:
 * the engine is being removed, and its connections may never answer again).
 */
export abstract class StartedInJob implements RunningContainer {
  readonly name: string;
  protected readonly job: ContainerJob;
  private readonly signal: AbortSignal;
  /** Whether it was stopped because its signal aborted. */
  protected stopped = false;
  private exit: Promise<ContainerExit> | undefined;
  private readonly onAbort = () => {
    this.stopped = true;
    this.stop();
  };

  constructor(name: string, job: ContainerJob, signal: AbortSignal) {
    this.name = name;
    this.job = job;
    this.signal = signal;
    // After the subclass's constructor: stop() reads its fields.
    if (signal.aborted) queueMicrotask(this.onAbort);
    else signal.addEventListener('abort', this.onAbort, { once: true });
  }

  wait(): Promise<ContainerExit> {
    this.exit ??= this.waitForExit().finally(() => this.signal.removeEventListener('abort', this.onAbort));
    return this.exit;
  }

  abstract remove(): Promise<void>;
  protected abstract stop(): void;
  protected abstract waitForExit(): Promise<ContainerExit>;

  /** Resolves null once the job is torn down. */
  protected tornDown(): Promise<null> {
    const torn = this.job.torn;
    return new Promise<null>((resolve) => {
      if (torn.aborted) resolve(null);
      else torn.addEventListener('abort', () => resolve(null), { once: true });
    });
  }
}

/** A step or service container of a job, started: killed when its start's signal aborts. */
export class DockerContainer extends StartedInJob {
  private readonly container: Docker.Container;
  private readonly end: ContainerEnd;
  private removal: Promise<void> | undefined;
  private readonly place: ShellPlace | undefined;
  /** Once the step has ended and a shell was asked for: what was kept of it. */
  private held: ReturnType<typeof holdEnded> | undefined;
  /** Whether its end is known (the shell then goes into what it left, not into it). */
  private ended = false;

  constructor(name: string, container: Docker.Container, job: ContainerJob, signal: AbortSignal, end: ContainerEnd, place?: ShellPlace) {
    super(name, job, signal);
    this.container = container;
    this.end = end;
    this.place = place;
  }

  /** Services have no place given, and no shell. */
  get shell(): ((opts: ShellOptions) => Promise<ShellSession>) | undefined {
    const place = this.place;
    if (!place) return undefined;
    return async (opts) => {
      // Running: the step's own container. Ended: what it left, kept.
      if (!this.ended) return execShell(this.container, place, opts);
      this.held ??= this.engineStopped().then(() => holdEnded(place.docker, this.container));
      this.held.catch(() => (this.held = undefined));
      return execShell((await this.held).container, place, opts);
    };
  }

  /**
   * Resolves once the engine has the container stopped: a gated step's end is known from its
   * gate's marker, a moment before its container has exited.
   */
  private async engineStopped(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([(this.container.wait() as Promise<unknown>).catch(() => undefined), new Promise((r) => (timer = setTimeout(r, 10_000)))]);
    clearTimeout(timer);
  }

  protected stop(): void {
    this.container.kill().catch(() => undefined);
  }

  /** A throw-away engine takes its containers with it; removing each one only costs time. */
  remove(): Promise<void> {
    const held = this.held?.then((h) => h.remove(), () => undefined);
    this.removal ??= this.job.disposable ? Promise.resolve() : Promise.all([this.container.remove({ force: true }).catch(() => undefined), held]).then(() => undefined);
    return this.removal;
  }

  protected async waitForExit(): Promise<ContainerExit> {
    try {
      return await this.exitOf();
    } finally {
      this.ended = true;
    }
  }

  private async exitOf(): Promise<ContainerExit> {
    const gone = this.tornDown();
    try {
      const gate = this.end.finished?.then((StatusCode) => ({ StatusCode }));
      const result = await Promise.race([this.container.wait() as Promise<{ StatusCode: number }>, gone, ...(gate ? [gate] : [])]);
      if (result === null) return { exitCode: null, oomKilled: false, stopped: true };
      // Past the gate's marker every line has been read; a killed container's output is read to its end.
      await Promise.race([this.end.ended, ...(this.end.finished ? [this.end.finished] : []), gone]);
      return { exitCode: result.StatusCode, oomKilled: false, stopped: this.stopped };
    } catch {
      return { exitCode: null, oomKilled: false, stopped: this.stopped };
    }
  }
}
