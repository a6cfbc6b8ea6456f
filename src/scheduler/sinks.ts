import type { OutputSink } from '../backend/backend.ts';
import type { LogLine } from './results.ts';
import type { SecretMasker } from './secret-masker.ts';

/** Where the lines of a job's containers go: masked, stamped, then to the caller's `onLog`. */
export interface LogTarget {
  masker: SecretMasker;
  onLog: (line: LogLine) => void;
  /** A promise while the lines' consumer is full: a step's output then waits (back-pressure). */
  logsFull?: (() => Promise<void> | undefined) | undefined;
}

/** A step's sink: it waits while the log is full, so a flooding step waits at its own stdout. */
export function stepSink(target: LogTarget, job: string, source: string): OutputSink {
  const full = target.logsFull;
  return {
    line: (stream, text) => target.onLog({ job, source, stream, time: Date.now(), text: target.masker.mask(text) }),
    full: full ?? (() => undefined),
  };
}

/** A service's sink: a service must never stall on its log. */
export function serviceSink(target: LogTarget, job: string, source: string): OutputSink {
  return { line: stepSink(target, job, source).line, full: () => undefined };
}
