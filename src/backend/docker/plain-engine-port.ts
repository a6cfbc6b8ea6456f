import { LOCAL_CLI_IMAGE } from '../../engine/images/image-names.ts';
import { nestorLabels } from '../../engine/labels.ts';
import { sleep } from '../../sleep.ts';
import type { JobSpec } from '../backend.ts';
import { ENGINE_PORT as ENGINE_ENDPOINT_PORT } from '../../engine/nested/daemon-args.ts';
import { ENGINE_ALIAS, ENGINE_SOCKET, PLAIN_ENGINE_PORT } from './engine-transport.ts';
import type { JobContext } from './job-context.ts';
import { NestorError } from '../../errors.ts';

/** The image the forwarder runs in: Nestor's own Docker CLI image, in every job engine already, with Python. */
export const PLAIN_PORT_IMAGE = LOCAL_CLI_IMAGE;

/**
 * Forwards 127.0.0.1:PORT to the engine's socket, byte for byte in both directions, with
 * half-closes kept (an attached `docker run` ends its input before the output is done).
 */
const FORWARDER = `
import asyncio, sys
async def pipe(r, w):
    try:
        while True:
            data = await r.read(65536)
            if not data: break
            w.write(data)
            await w.drain()
        if w.can_write_eof(): w.write_eof()
    except Exception:
        pass
async def serve(r, w):
    try:
        ur, uw = await asyncio.open_unix_connection(sys.argv[2])
    except Exception:
        w.close()
        return
    await asyncio.gather(pipe(r, uw), pipe(ur, w))
    uw.close()
    w.close()
async def main():
    server = await asyncio.start_server(serve, '127.0.0.1', int(sys.argv[1]))
    print('ready', flush=True)
    await server.serve_forever()
asyncio.run(main())
`;

/**
 * The port the file's own steps expect their daemon on: the first step whose DOCKER_HOST is
 * `tcp://NAME:PORT` with NAME one of the engine's; else Docker's usual plain port. The engine's
 * TLS port is refused: it answers TLS there.
 */
export function plainPortOf(spec: JobSpec): number {
  const names = new Set([ENGINE_ALIAS, ...spec.engineAliases, 'localhost', '127.0.0.1']);
  for (const step of spec.steps) {
    const m = /^tcp:\/\/([^:/]+):(\d+)\/?$/.exec(step.environment.DOCKER_HOST ?? '');
    if (!m || !names.has(m[1]!)) continue;
    const port = Number(m[2]);
    if (port === ENGINE_ENDPOINT_PORT) throw new PlainEnginePortError(port, `${step.name} asks for plain HTTP on ${port}, where the engine answers TLS; write tcp://docker:${PLAIN_ENGINE_PORT} for plain HTTP`);
    return port;
  }
  return PLAIN_ENGINE_PORT;
}

export class PlainEnginePortError extends NestorError {
  constructor(port: number, why: string) {
    super('NESTOR_ENGINE_PLAIN_PORT', `The job engine could not answer plain HTTP on port ${port}: ${why}`, 'Set DOCKER_TLS_CERTDIR to a directory (TLS, docker:dind\'s default) instead, or report this with the job\'s log.');
  }
}

/**
 * A file whose dind service turns TLS off reaches its daemon at tcp://docker:2375. The job's
 * engine answers TLS only, on 2376; this starts, inside the engine, a forwarder from
 * 127.0.0.1:PORT of the engine's own network namespace (which the job's containers share,
 * and nothing outside the job does) to the engine's socket. It goes with the engine.
 */
export async function startPlainEnginePort(ctx: JobContext): Promise<void> {
  const port = ctx.plainPort!;
  const container = await ctx.docker.createContainer({
    Image: PLAIN_PORT_IMAGE,
    Entrypoint: ['python3', '-c', FORWARDER],
    Cmd: [String(port), ENGINE_SOCKET],
    Labels: nestorLabels('service', { ...ctx.labels, 'dev.nestor.container': 'engine-plain-port' }),
    HostConfig: { NetworkMode: ctx.network, Binds: [`${ENGINE_SOCKET}:${ENGINE_SOCKET}`], PidsLimit: 64 },
  });
  await container.start();
  const deadline = Date.now() + 10_000;
  for (;;) {
    const logs = (await container.logs({ stdout: true, stderr: true })).toString('utf8');
    if (logs.includes('ready')) return;
    const state = (await container.inspect()).State;
    if (!state.Running) throw new PlainEnginePortError(port, logs.trim().split('\n').slice(-3).join(' ') || `it exited with ${state.ExitCode}`);
    if (Date.now() > deadline) throw new PlainEnginePortError(port, 'the forwarder did not start within 10 s');
    await sleep(20);
  }
}
