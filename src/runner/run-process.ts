import type Docker from 'dockerode';
import { demuxWithBackpressure } from '../engine/demux.ts';
import { LineWriter, type LogLine, type SecretMasker, type StreamName } from './log-lines.ts';

/**
 * Attaches to a created container's output before it starts, so no line is lost, and feeds
 * stdout and stderr separately, line by line and masked, to `onLog`. Resolves when the output
 * The returned `ended` settles when the output has ended (the container has stopped); it is
 * wrapped in an object because an async function would otherwise wait for it.
 */
export async function attachOutput(
  docker: Docker,
  container: Docker.Container,
  meta: { job: string; source: string },
  masker: SecretMasker,
  onLog: (line: LogLine) => void,
  full?: () => Promise<void> | undefined,
): Promise<{ ended: Promise<void> }> {
  const stream = (await container.attach({ stream: true, stdout: true, stderr: true, logs: true })) as NodeJS.ReadableStream;
  const writer = (name: StreamName) =>
    new LineWriter((text) => onLog({ ...meta, stream: name, time: Date.now(), text: masker.mask(text) }), full);
  const out = writer('stdout');
  const err = writer('stderr');
  demuxWithBackpressure(stream, out, err);
  const ended = new Promise<void>((resolve) => {
    const finish = () => {
      out.end();
      err.end();
      resolve();
    };
    stream.on('end', finish);
    stream.on('close', finish);
    stream.on('error', finish);
  });
  return { ended };
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
