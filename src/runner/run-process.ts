import type Docker from 'dockerode';
import { demuxWithBackpressure } from '../engine/demux.ts';
import { LineWriter, type EndMarker, type LogLine, type SecretMasker, type StreamName } from './log-lines.ts';

/** Where a step's or service's output lines go. */
export interface OutputSink {
  meta: { job: string; source: string };
  masker: SecretMasker;
  onLog: (line: LogLine) => void;
  /** A promise while the lines' consumer is full: the container's output then waits. */
  full?: () => Promise<void> | undefined;
}

/**
 * Feeds a container's multiplexed attach stream to `sink` line by line, stdout and stderr kept
 * apart and masked. `sink` is asked per line: a gated step's sink is known only once it is
 * released. Resolves when the output has ended (the container has stopped).
 */
export function streamLines(stream: NodeJS.ReadableStream, sink: () => OutputSink | undefined, marker?: EndMarker): Promise<void> {
  const writer = (name: StreamName) =>
    new LineWriter(
      (text) => {
        const s = sink();
        s?.onLog({ ...s.meta, stream: name, time: Date.now(), text: s.masker.mask(text) });
      },
      () => sink()?.full?.(),
      marker,
    );
  const out = writer('stdout');
  const err = writer('stderr');
  demuxWithBackpressure(stream, out, err);
  return new Promise<void>((resolve) => {
    const finish = () => {
      out.end();
      err.end();
      resolve();
    };
    stream.on('end', finish);
    stream.on('close', finish);
    stream.on('error', finish);
  });
}

/**
 * Attaches to a created container's output before it starts, so no line is lost. The returned
 * `ended` settles when the output has ended; it is wrapped in an object because an async
 * function would otherwise wait for it.
 */
export async function attachOutput(container: Docker.Container, sink: OutputSink): Promise<{ ended: Promise<void> }> {
  const stream = (await container.attach({ stream: true, stdout: true, stderr: true, logs: true })) as NodeJS.ReadableStream;
  return { ended: streamLines(stream, () => sink) };
}

/**
 * Waits for a container to stop, killing it at the deadline or when told to stop. `finished`:
 * the step's status as its gate reports it, which comes before the engine reports the exit.
 */
export async function waitFor(
  container: Docker.Container,
  timeoutMs: number,
  signal: AbortSignal,
  finished?: Promise<number>,
): Promise<{ exitCode: number; outcome: 'exited' | 'timeout' | 'cancelled' }> {
  let outcome: 'exited' | 'timeout' | 'cancelled' = 'exited';
  const kill = (why: 'timeout' | 'cancelled') => {
    outcome = why;
    container.kill().catch(() => undefined);
  };
  const timer = setTimeout(() => kill('timeout'), timeoutMs);
  const onAbort = () => kill('cancelled');
  signal.addEventListener('abort', onAbort, { once: true });
  if (signal.aborted) onAbort();
  // On cancel the engine is being removed: its connections may never answer again, so the
  // wait ends with the signal rather than with the container.
  const aborted = new Promise<{ StatusCode: number }>((resolve) => signal.addEventListener('abort', () => resolve({ StatusCode: -1 }), { once: true }));
  try {
    const gate = finished?.then((StatusCode) => ({ StatusCode }));
    const result = (await Promise.race([container.wait() as Promise<{ StatusCode: number }>, aborted, ...(gate ? [gate] : [])])) as { StatusCode: number };
    return { exitCode: result.StatusCode, outcome };
  } catch {
    return { exitCode: -1, outcome: outcome === 'exited' ? 'cancelled' : outcome };
  } finally {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
  }
}
