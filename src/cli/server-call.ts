import { createWriteStream } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { Option, type Command } from 'commander';
import { NestorError, errorMessage } from '../errors.ts';
import { apiCall } from '../server/api-client.ts';
import { ServerProblem } from '../runner/server-client.ts';

/** What every command that talks to a server takes: where it is, a token, and --json. */
export interface ServerFlags {
  server: string;
  token: string;
  json?: boolean;
}

export function withServer(cmd: Command): Command {
  return cmd
    .addOption(new Option('--server <url>', 'the Nestor server').default('http://127.0.0.1:8080').env('NESTOR_SERVER'))
    .addOption(new Option('--token <token>', 'an API token').env('NESTOR_TOKEN').makeOptionMandatory())
    .option('--json', 'machine-readable output');
}

export async function call<T = Record<string, unknown>>(flags: ServerFlags, method: string, path: string, body?: unknown): Promise<T> {
  let res;
  try {
    res = await apiCall<T>(flags.server, method, path, body, flags.token);
  } catch (err) {
    throw new NestorError('NESTOR_SERVER_UNREACHABLE', `Cannot reach the Nestor server at ${flags.server}: ${errorMessage(err)}`, 'Start it with `nestor up` or `nestor server`, or point --server / NESTOR_SERVER at it.');
  }
  if (res.status >= 400) throw new ServerProblem(res.status, res.body as { code?: string; detail?: string; hint?: string }, `${method} ${path}`);
  return res.body;
}


/** Streams a download of the server's into `file`; answers its size. */
export async function download(flags: ServerFlags, path: string, file: string): Promise<number> {
  let res: Response;
  try {
    res = await fetch(new URL(path, flags.server), { headers: { authorization: `Bearer ${flags.token}` } });
  } catch (err) {
    throw new NestorError('NESTOR_SERVER_UNREACHABLE', `Cannot reach the Nestor server at ${flags.server}: ${errorMessage(err)}`, 'Start it with `nestor up` or `nestor server`, or point --server / NESTOR_SERVER at it.');
  }
  if (!res.ok || !res.body) throw new ServerProblem(res.status, (await res.json().catch(() => ({}))) as { code?: string; detail?: string; hint?: string }, `GET ${path}`);
  let bytes = 0;
  const counted = Readable.fromWeb(res.body as WebReadableStream<Uint8Array>).on('data', (c: Buffer) => (bytes += c.length));
  await pipeline(counted, createWriteStream(file));
  return bytes;
}
