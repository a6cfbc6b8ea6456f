import { connect, ping, type EngineClient } from '../engine/engine-client.ts';
import { endpointFromEnv } from '../engine/docker-host.ts';
import { Output } from './output.ts';

/**
 * Wraps a command: builds its Output from `--json`, turns any error into a message with a
 * hint and a meaningful exit code, and never leaves a stack trace for a user error.
 */
export function action<A extends unknown[]>(body: (out: Output, ...args: A) => Promise<number | void>) {
  return async (...args: A): Promise<void> => {
    // commander calls actions with (...arguments, options, command).
    const opts = args[args.length - 2] as { json?: boolean } | undefined;
    const out = new Output({ json: opts?.json });
    try {
      process.exitCode = (await body(out, ...args)) ?? 0;
    } catch (err) {
      process.exitCode = out.error(err);
    }
  };
}

/** The host engine (DOCKER_HOST and the like, from this process's environment), checked to answer before any work starts. */
export async function hostEngine(): Promise<EngineClient> {
  const host = connect(endpointFromEnv(process.env));
  await ping(host, 5000);
  return host;
}
