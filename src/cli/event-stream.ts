import { NestorError, errorMessage } from '../errors.ts';
import { ServerProblem } from '../runner/server-client.ts';
import type { ServerFlags } from './server-call.ts';

export interface ServerEvent {
  event: string;
  id?: string;
  data: string;
}

/**
 * Reads a server-sent event stream of the server's (a job's log, pipeline changes), event by
 * event, until it ends or `signal` aborts. Comments (keep-alives) are dropped.
 */
export async function* eventsOf(flags: ServerFlags, path: string, signal?: AbortSignal): AsyncGenerator<ServerEvent> {
  let res: Response;
  try {
    res = await fetch(new URL(path, flags.server), { headers: { authorization: `Bearer ${flags.token}`, accept: 'text/event-stream' }, ...(signal ? { signal } : {}) });
  } catch (err) {
    if (signal?.aborted) return;
    throw new NestorError('NESTOR_SERVER_UNREACHABLE', `Cannot reach the Nestor server at ${flags.server}: ${errorMessage(err)}`, 'Start it with `nestor up` or `nestor server`, or point --server / NESTOR_SERVER at it.');
  }
  if (!res.ok || !res.body) throw new ServerProblem(res.status, (await res.json().catch(() => ({}))) as { code?: string; detail?: string; hint?: string }, `GET ${path}`);
  const decoder = new TextDecoder();
  let buffer = '';
  try {
    for await (const chunk of res.body) {
      buffer += decoder.decode(chunk as Uint8Array, { stream: true });
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const e: ServerEvent = { event: 'message', data: '' };
        const data: string[] = [];
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          const [field, value] = colon < 0 ? [line, ''] : [line.slice(0, colon), line.slice(colon + 1).replace(/^ /, '')];
          if (field === 'event') e.event = value;
          else if (field === 'id') e.id = value;
          else if (field === 'data') data.push(value);
        }
        if (!data.length) continue;
        e.data = data.join('\n');
        yield e;
      }
    }
  } catch (err) {
    if (!signal?.aborted) throw err;
  }
}
