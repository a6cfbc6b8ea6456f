import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { NestorError } from '../errors.ts';

/**
 * Where a Docker engine answers and how to talk to it, resolved from the Docker CLI's own
 * conventions (DOCKER_HOST, DOCKER_TLS_VERIFY, DOCKER_CERT_PATH) so that a user's existing
 * shell set-up works unchanged.
 */
export type EngineEndpoint =
  | { kind: 'unix'; socketPath: string }
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'tls'; host: string; port: number; tls: TlsMaterial; serverName?: string }
  | { kind: 'ssh'; host: string; port: number; username?: string; login?: SshLogin };

/**
 * How an ssh:// engine is logged in to, besides the usual key files in ~/.ssh: the ssh agent
 * (SSH_AUTH_SOCK) and a key file (NESTOR_SSH_KEY), as the environment of the edge gives them.
 */
export interface SshLogin {
  agent?: string;
  keyFile?: string;
}

export function sshLogin(env: NodeJS.ProcessEnv): SshLogin {
  return { ...(env.SSH_AUTH_SOCK ? { agent: env.SSH_AUTH_SOCK } : {}), ...(env.NESTOR_SSH_KEY ? { keyFile: env.NESTOR_SSH_KEY } : {}) };
}

export interface TlsMaterial {
  ca: string;
  cert: string;
  key: string;
}

export const DEFAULT_SOCKET = '/var/run/docker.sock';

export class InvalidDockerHostError extends NestorError {
  constructor(value: string, why: string) {
    super(
      'NESTOR_DOCKER_HOST_INVALID',
      `DOCKER_HOST=${JSON.stringify(value)} is not usable: ${why}`,
      'Use unix:///var/run/docker.sock, tcp://HOST:2376 (with DOCKER_TLS_VERIFY=1 and DOCKER_CERT_PATH) or ssh://USER@HOST.',
    );
  }
}

export class TlsMaterialError extends NestorError {
  constructor(dir: string, cause: unknown) {
    super(
      'NESTOR_TLS_MATERIAL_MISSING',
      `DOCKER_TLS_VERIFY is set but ca.pem, cert.pem and key.pem could not be read from ${dir}`,
      'Point DOCKER_CERT_PATH at the folder holding the client certificates, or unset DOCKER_TLS_VERIFY for a plain TCP engine.',
      { cause },
    );
  }
}

/** Reads the TLS trio the Docker CLI expects in DOCKER_CERT_PATH. */
export function readTlsMaterial(dir: string): TlsMaterial {
  try {
    return {
      ca: readFileSync(join(dir, 'ca.pem'), 'utf8'),
      cert: readFileSync(join(dir, 'cert.pem'), 'utf8'),
      key: readFileSync(join(dir, 'key.pem'), 'utf8'),
    };
  } catch (err) {
    throw new TlsMaterialError(dir, err);
  }
}

/**
 * The engine the Docker CLI would use, from its variables in `env` (process.env at the edge,
 * src/cli; tests pass their own), with the ssh login of `sshLogin` for ssh:// hosts.
 */
export function endpointFromEnv(
  env: NodeJS.ProcessEnv,
  loadTls: (dir: string) => TlsMaterial = readTlsMaterial,
): EngineEndpoint {
  const raw = env.DOCKER_HOST?.trim();
  if (!raw) return { kind: 'unix', socketPath: DEFAULT_SOCKET };
  return parseDockerHost(raw, env, loadTls);
}

export function parseDockerHost(
  raw: string,
  env: NodeJS.ProcessEnv = {},
  loadTls: (dir: string) => TlsMaterial = readTlsMaterial,
): EngineEndpoint {
  if (raw.startsWith('/')) return { kind: 'unix', socketPath: raw };
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new InvalidDockerHostError(raw, 'it is not a URL');
  }
  const tlsVerify = Boolean(env.DOCKER_TLS_VERIFY) && env.DOCKER_TLS_VERIFY !== '0';
  switch (url.protocol) {
    case 'unix:':
      if (!url.pathname) throw new InvalidDockerHostError(raw, 'the socket path is empty');
      return { kind: 'unix', socketPath: url.pathname };
    case 'tcp:':
    case 'http:':
    case 'https:': {
      if (!url.hostname) throw new InvalidDockerHostError(raw, 'the host name is empty');
      const tls = tlsVerify || url.protocol === 'https:';
      const port = url.port ? Number(url.port) : tls ? 2376 : 2375;
      if (!tls) return { kind: 'tcp', host: url.hostname, port };
      const dir = env.DOCKER_CERT_PATH || join(homedir(), '.docker');
      return { kind: 'tls', host: url.hostname, port, tls: loadTls(dir) };
    }
    case 'ssh:': {
      if (!url.hostname) throw new InvalidDockerHostError(raw, 'the host name is empty');
      const login = sshLogin(env);
      return {
        kind: 'ssh',
        host: url.hostname,
        port: url.port ? Number(url.port) : 22,
        ...(url.username ? { username: decodeURIComponent(url.username) } : {}),
        ...(Object.keys(login).length ? { login } : {}),
      };
    }
    default:
      throw new InvalidDockerHostError(raw, `the scheme ${url.protocol} is not supported`);
  }
}

/** How the endpoint reads in messages: the address the user would recognise. */
export function describeEndpoint(endpoint: EngineEndpoint): string {
  switch (endpoint.kind) {
    case 'unix':
      return `unix://${endpoint.socketPath}`;
    case 'tcp':
      return `tcp://${endpoint.host}:${endpoint.port}`;
    case 'tls':
      return `tcp://${endpoint.host}:${endpoint.port} (TLS)`;
    case 'ssh':
      return `ssh://${endpoint.username ? `${endpoint.username}@` : ''}${endpoint.host}:${endpoint.port}`;
  }
}
