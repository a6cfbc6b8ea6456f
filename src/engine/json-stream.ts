import { NestorError } from '../errors.ts';

/** One message of the Engine API's build, pull and push progress streams. */
export interface ProgressMessage {
  stream?: string;
  status?: string;
  progress?: string;
  id?: string;
  aux?: { ID?: string; Tag?: string; Digest?: string };
  error?: string;
  errorDetail?: { code?: number; message?: string };
}

export class EngineStreamError extends NestorError {
  readonly output: string;
  constructor(what: string, message: string, output: string) {
    super(
      'NESTOR_ENGINE_STREAM_FAILED',
      `${what} failed: ${message}`,
      what.startsWith('build') ? 'Fix the Dockerfile step named above and build again.' : 'Check the image name, the registry address and its credentials.',
    );
    this.output = output;
  }
}

/**
 * Reads a progress stream to its end. The Engine API answers 200 for a build or pull that
 * fails and reports the failure only inside the stream, as `errorDetail`; that is detected
 * here and becomes an error, with the output printed so far.
 */
export async function consumeProgress(
  what: string,
  stream: NodeJS.ReadableStream,
  onMessage: (m: ProgressMessage) => void = () => {},
): Promise<{ output: string; messages: ProgressMessage[] }> {
  const messages: ProgressMessage[] = [];
  let output = '';
  let pending = '';
  let failure: string | undefined;
  const handle = (line: string) => {
    if (!line.trim()) return;
    let m: ProgressMessage;
    try {
      m = JSON.parse(line) as ProgressMessage;
    } catch {
      output += `${line}\n`;
      return;
    }
    messages.push(m);
    if (m.stream) output += m.stream;
    if (m.errorDetail || m.error) failure ??= m.errorDetail?.message ?? m.error ?? 'unknown error';
    onMessage(m);
  };
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    pending += chunk.toString();
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      handle(pending.slice(0, nl));
      pending = pending.slice(nl + 1);
    }
  }
  handle(pending);
  if (failure !== undefined) throw new EngineStreamError(what, failure.trim(), output);
  return { output, messages };
}
