import type { RunningContainer, ShellOptions, ShellSession } from '../backend/backend.ts';
import { NestorError } from '../errors.ts';

/** A failed step kept for a shell. */
interface Hold {
  sessions: number;
  release: () => void;
}

interface LiveStep {
  /** `job/step`: a run of several jobs (a matrix) may have a step of one name in each. */
  key: string;
  step: string;
  container: RunningContainer;
  /** When it was listed: with no step named, the newest is the one a shell goes into. */
  since: number;
  held?: Hold;
}

export interface LiveStepsOptions {
  /** How long a failed step is kept for a shell; 0 (the default) keeps none. */
  holdMs?: number;
  /** The command that opens a shell into a step, as its user would type it: said when a step is held. */
  shellCommand?: (step: string) => string;
  /** Told of each step held, once its hold has begun (`nestor run --hold-on-failure` opens a shell in it there and then). */
  onHeld?: (key: string) => void;
}

/** A shell asked for a step that is not there to go into. */
export class NoLiveStepError extends NestorError {
  constructor(asked: string | undefined, live: string[]) {
    super(
      'NESTOR_SHELL_NO_STEP',
      asked ? `Step ${asked} is not running in this job${live.length ? ` (running: ${live.join(', ')})` : ''}` : 'No step of this job is running now',
      live.length ? `Name one of ${live.join(', ')}.` : 'A shell goes into a running step, or into a failed one kept by a run with --hold-on-failure: wait for a step to start, or run again with --hold-on-failure.',
    );
  }
}

/**
 * The steps of a job that a shell may go into (`nestor jobs shell`): each step while it runs
 * and, with `holdMs`, a failed step for that long afterwards. A held step keeps the job open
 * (its engine, its other steps waiting) until its time is up with no shell in it, its last
 * shell ends, or the job is cancelled.
 */
export class LiveSteps {
  readonly holdMs: number;
  private readonly shellCommand: ((step: string) => string) | undefined;
  private readonly onHeld: ((key: string) => void) | undefined;
  private readonly steps = new Map<string, LiveStep>();

  constructor(opts: LiveStepsOptions = {}) {
    this.holdMs = opts.holdMs ?? 0;
    this.shellCommand = opts.shellCommand;
    this.onHeld = opts.onHeld;
  }

  /** Lists a started step; the answer unlists it. */
  add(key: string, step: string, container: RunningContainer): () => void {
    const entry = { key, step, container, since: performance.now() };
    this.steps.set(key, entry);
    return () => {
      if (this.steps.get(key) === entry) this.steps.delete(key);
    };
  }

  /** The steps a shell may go into now. */
  names(): string[] {
    return [...this.steps.keys()];
  }

  /** Opens a shell in the named step (its name, or job/step), or with none named in the newest. */
  async open(asked: string | undefined, opts: ShellOptions): Promise<{ step: string; session: ShellSession }> {
    const entry = this.find(asked);
    if (!entry.container.shell) {
      throw new NestorError('NESTOR_SHELL_UNSUPPORTED', `Step ${entry.key} runs where Nestor cannot open a shell`, 'A shell goes into a step of the Docker backend; services have none.');
    }
    const session = await entry.container.shell(opts);
    const held = entry.held;
    if (held) {
      held.sessions++;
      void session.exited.then(() => {
        if (--held.sessions === 0) held.release();
      });
    }
    return { step: entry.key, session };
  }

  /**
   * Keeps a failed step for a shell, resolving when it may go: `holdMs` passed with no shell in
   * it, its last shell ended, or `signal` (the job's cancel) aborted. At once without `holdMs`.
   */
  hold(key: string, signal: AbortSignal, say: (text: string) => void): Promise<void> {
    const entry = this.steps.get(key);
    if (!this.holdMs || !entry || signal.aborted) return Promise.resolve();
    const minutes = Math.round(this.holdMs / 6000) / 10;
    say(`nestor: step ${entry.step} failed; it is kept ${minutes} min for a shell${this.shellCommand ? `: ${this.shellCommand(entry.step)}` : ''} (the job goes on when the last shell exits)`);
    return new Promise<void>((resolve) => {
      const hold: Hold = {
        sessions: 0,
        release: () => {
          clearTimeout(timer);
          signal.removeEventListener('abort', hold.release);
          delete entry.held;
          resolve();
        },
      };
      // Its time up while a shell is in it: it goes when that shell ends.
      const timer = setTimeout(() => hold.sessions === 0 && hold.release(), this.holdMs);
      signal.addEventListener('abort', hold.release, { once: true });
      entry.held = hold;
      this.onHeld?.(key);
    });
  }

  private find(asked: string | undefined): LiveStep {
    const all = [...this.steps.values()];
    if (asked === undefined) {
      const newest = all.sort((a, b) => b.since - a.since)[0];
      if (newest) return newest;
      throw new NoLiveStepError(undefined, []);
    }
    const named = this.steps.get(asked) ?? all.filter((s) => s.step === asked).sort((a, b) => b.since - a.since)[0];
    if (!named) throw new NoLiveStepError(asked, this.names());
    return named;
  }
}
