import { CLIENT_CERT_DIR, ENGINE_PORT } from '../../engine/nested/daemon-args.ts';
import type { NestedEngine } from '../../engine/nested/nested-engine.ts';
import type { EngineUse, MountIntent } from '../../pipeline/plan.ts';

/**
 * How a job's containers reach its Docker engine: where the plan's intent (`EngineUse`, the
 * engine's socket mounts, `JobPlan.engineAliases`) becomes variables, mounts and names. The
 * plan says "this step talks to its job's engine"; this file says how, for the two kinds of
 * engine a job can have here:
 *
 * - `tls`: a nested engine of the job's own. Every container shares the engine's network
 *   namespace, where `docker` (and each dind service's names) resolve to 127.0.0.1; the engine
 *   answers on TLS at port 2376, and its client certificates are mounted where docker:dind
 *   puts its own (`/certs/client`), so files written for a dind service find them unchanged.
 *   A file whose dind service turns TLS off (`DOCKER_TLS_CERTDIR: ""`) gets the engine on plain
 *   HTTP too, at 127.0.0.1:2375 (or its DOCKER_HOST's port) of that namespace, which only the
 *   job's containers share (plain-engine-port.ts); its clients get no TLS variables.
 * - `socket`: the host's own engine (`--mode socket`). It has no TCP endpoint for jobs: a
 *   client pointed at one is given the host's socket instead, and no certificates are needed.
 */
export type EngineTransport = 'tls' | 'socket';

/** The name every container reaches the job engine by: GitLab's alias for its `docker:dind` service. */
export const ENGINE_ALIAS = 'docker';
/** Where steps find the job engine's client certificates: docker:dind's own place for them. */
export const ENGINE_CERTS_PATH = '/certs/client';
/** The engine's socket, in the engine's own filesystem and where containers are given it. */
export const ENGINE_SOCKET = '/var/run/docker.sock';
/** The directory of the engine's socket. */
const ENGINE_SOCKET_DIR = '/var/run';

export function transportOf(engine: Pick<NestedEngine, 'isolation'>): EngineTransport {
  return engine.isolation === 'socket' ? 'socket' : 'tls';
}

/**
 * Every name a container of the job resolves to the engine (on a network where the job's
 * names are the runner's to give): Nestor's own alias, then the file's dind services'.
 */
export function engineNames(fileAliases: string[]): string[] {
  return [...new Set([ENGINE_ALIAS, ...fileAliases])];
}

/** The bind of one of the engine's socket mounts. */
export function engineSocketBind(m: Extract<MountIntent, { kind: 'engine-socket-dir' | 'engine-socket' }>): string {
  return m.kind === 'engine-socket-dir' ? `${ENGINE_SOCKET_DIR}:${m.target}` : `${ENGINE_SOCKET}:${m.target}`;
}

export interface EngineAccess {
  /** The container's whole environment: the engine's variables under the plan's own. */
  environment: Record<string, string>;
  /** Binds to add after the plan's own mounts: certificates, the host's socket. */
  binds: string[];
}

/**
 * What a container gets to reach its job's engine, given what the plan says it needs.
 *
 * `environment` is the plan's: variables the file set itself win over the engine's (a file's
 * own DOCKER_HOST is kept as written). Steps are given the client certificates whether or not
 * their environment points at the engine (one that mounts the socket may still switch to TLS
 * itself); services are given only the directories their `EngineUse` names. A mount of the
 * plan's at the same place wins over a certificate directory.
 */
export function engineAccess(
  transport: EngineTransport,
  use: EngineUse,
  role: 'step' | 'service',
  environment: Record<string, string>,
  mounts: MountIntent[],
  plainPort = PLAIN_ENGINE_PORT,
): EngineAccess {
  // The engine's variables where the plan sets none of its own, after the plan's.
  const env = { ...environment };
  if (use.client) for (const [k, v] of Object.entries(use.plain ? plainClientVariables(plainPort) : clientVariables())) env[k] ??= v;
  if (transport === 'socket') {
    const binds: string[] = [];
    if (env.DOCKER_HOST?.startsWith('tcp://')) {
      // No TCP engine here: the client talks to the host engine over its socket, mounted here.
      env.DOCKER_HOST = `unix://${ENGINE_SOCKET}`;
      delete env.DOCKER_TLS_VERIFY;
      delete env.DOCKER_CERT_PATH;
      binds.push(`${ENGINE_SOCKET}:${ENGINE_SOCKET}`);
    }
    return { environment: env, binds };
  }
  const dirs = new Set([...(role === 'step' ? [ENGINE_CERTS_PATH] : []), ...use.certDirs]);
  const binds = [...dirs].filter((d) => !mounts.some((m) => m.target === d)).map((d) => `${CLIENT_CERT_DIR}:${d}:ro`);
  return { environment: env, binds };
}

/** Docker's usual port for plain HTTP, where a file that turns TLS off expects its daemon. */
export const PLAIN_ENGINE_PORT = 2375;

/** How a client of a file that turned TLS off reaches the engine: plain HTTP, by its alias, only inside the job. */
function plainClientVariables(port: number): Record<string, string> {
  return { DOCKER_HOST: `tcp://${ENGINE_ALIAS}:${port}` };
}

/** How a Docker client reaches the nested engine: over TLS, by its alias. */
function clientVariables(): Record<string, string> {
  return { DOCKER_HOST: `tcp://${ENGINE_ALIAS}:${ENGINE_PORT}`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: ENGINE_CERTS_PATH };
}
