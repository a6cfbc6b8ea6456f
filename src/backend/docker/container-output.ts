import type Docker from 'dockerode';
import { demuxWithBackpressure } from '../../engine/demux.ts';
import type { OutputSink, StreamName } from '../backend.ts';
import { LineWriter, type EndMarker } from '../line-writer.ts';

/**
 * Feeds a container's multiplexed attach stream to `sink` line by line, stdout and stderr kept
 * apart; the sink's `full` holds the stream while its consumer wants no more. `sink` is asked
 * per line: a gated step's sink is known only once it is released. Resolves when the output
 * has ended (the container has stopped).
 */
export function streamLines(stream: NodeJS.ReadableStream, sink: () => OutputSink | undefined, marker?: EndMarker): Promise<void> {
  const writer = (name: StreamName) =>
    new LineWriter(
      (text) => sink()?.line(name, text),
      () => sink()?.full(),
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
