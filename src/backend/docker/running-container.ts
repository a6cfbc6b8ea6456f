import type Docker from 'dockerode';
import type { ContainerExit, RunningContainer } from '../backend.ts';

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
 * A step or service container of a job, started: killed when its start's signal aborts, and
 * waited for until it exits, or until the job is torn down (a cancel: the engine is being
 * removed, and its connections may never answer again).
 */
export class DockerContainer implements RunningContainer {
  readonly name: string;
  private readonly container: Docker.Container;
  private readonly job: ContainerJob;
  private readonly end: ContainerEnd;
  private readonly signal: AbortSignal;
  private stopped = false;
  private exit: Promise<ContainerExit> | undefined;
  private removal: Promise<void> | undefined;
  private readonly kill = () => {
    this.stopped = true;
    this.container.kill().catch(() => undefined);
  };

  constructor(name: string, container: Docker.Container, job: ContainerJob, signal: AbortSignal, end: ContainerEnd) {
    this.name = name;
    this.container = container;
    this.job = job;
    this.end = end;
    this.signal = signal;
    if (signal.aborted) this.kill();
    else signal.addEventListener('abort', this.kill, { once: true });
  }

  wait(): Promise<ContainerExit> {
    this.exit ??= this.waitForExit().finally(() => this.signal.removeEventListener('abort', this.kill));
    return this.exit;
  }

  /** A throw-away engine takes its containers with it; removing each one only costs time. */
  remove(): Promise<void> {
    this.removal ??= this.job.disposable ? Promise.resolve() : this.container.remove({ force: true }).then(() => undefined, () => undefined);
    return this.removal;
  }

  private async waitForExit(): Promise<ContainerExit> {
    const torn = this.job.torn;
    const gone = new Promise<null>((resolve) => {
      if (torn.aborted) resolve(null);
      else torn.addEventListener('abort', () => resolve(null), { once: true });
    });
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
