import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import Docker from 'dockerode';
import { checkServerIdentity } from 'node:tls';
import { NestorError, errorMessage } from '../errors.ts';
import { describeEndpoint, type EngineEndpoint } from './docker-host.ts';

export class EngineUnreachableError extends NestorError {
  readonly address: string;

  constructor(address: string, reason: string, hint: string, cause?: unknown) {
    super('NESTOR_ENGINE_UNREACHABLE', `Cannot connect to the Docker daemon at ${address}: ${reason}`, hint, {
      cause,
    });
    this.address = address;
  }
}

/** A Docker API client together with where it points, so every error can name the address. */
export interface EngineClient {
  docker: Docker;
  endpoint: EngineEndpoint;
  address: string;
}

/** A client of the engine at `endpoint` (at the edge: `endpointFromEnv(process.env)`). */
export function connect(endpoint: EngineEndpoint): EngineClient {
  return { docker: new Docker(dockerodeOptions(endpoint)), endpoint, address: describeEndpoint(endpoint) };
}

function dockerodeOptions(endpoint: EngineEndpoint): Docker.DockerOptions {
  switch (endpoint.kind) {
    case 'unix':
      return { socketPath: endpoint.socketPath };
    case 'tcp':
      return { protocol: 'http', host: endpoint.host, port: endpoint.port };
    case 'tls': {
      const { serverName } = endpoint;
      return {
        protocol: 'https',
        host: endpoint.host,
        port: endpoint.port,
        ...endpoint.tls,
        // A nested engine is reached by its container address, which is not known when its
        // certificate is made; the certificate names the engine instead.
        ...(serverName ? { checkServerIdentity: (_host: string, cert: never) => checkServerIdentity(serverName, cert) } : {}),
      } as Docker.DockerOptions;
    }
    case 'ssh':
      return {
        protocol: 'ssh',
        host: endpoint.host,
        port: endpoint.port,
        ...(endpoint.username ? { username: endpoint.username } : {}),
        sshOptions: { ...(endpoint.login?.agent ? { agent: endpoint.login.agent } : {}), ...sshKey(endpoint.login?.keyFile) },
      } as Docker.DockerOptions;
  }
}

/**
 * The private key for ssh:// hosts besides the agent: the endpoint's key file (NESTOR_SSH_KEY),
 * else the usual key files, as the ssh command would try them.
 */
function sshKey(keyFile: string | undefined): { privateKey?: Buffer } {
  const candidates = keyFile ? [keyFile] : ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((f) => join(homedir(), '.ssh', f));
  for (const file of candidates) {
    if (existsSync(file)) return { privateKey: readFileSync(file) };
  }
  return {};
}

/** Pings the engine and fails within `deadlineMs` with an error that says what to check. */
export async function ping(client: EngineClient, deadlineMs = 3000): Promise<void> {
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      abort.abort();
      reject(new Error(`no answer within ${deadlineMs} ms`));
    }, deadlineMs);
  });
  try {
    await Promise.race([client.docker.ping({ abortSignal: abort.signal } as never), deadline]);
  } catch (err) {
    throw unreachable(client, err);
  } finally {
    clearTimeout(timer);
  }
}

export function unreachable(client: EngineClient, err: unknown): EngineUnreachableError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code ?? '';
  const reason = errorMessage(err);
  return new EngineUnreachableError(client.address, reason, hintFor(client.endpoint, code, reason), err);
}

function hintFor(endpoint: EngineEndpoint, code: string, reason: string): string {
  if (code === 'ENOENT' && endpoint.kind === 'unix')
    return `No socket at ${endpoint.socketPath}: is dockerd running? Start it (systemctl start docker, or dockerd &) or set DOCKER_HOST to the engine you use.`;
  if (code === 'EACCES')
    return 'Permission denied on the socket: run as root, add your user to the docker group (then log in again), or use a rootless engine.';
  if (code === 'ECONNREFUSED')
    return 'Nothing listens there: start the engine, or check the host and port in DOCKER_HOST.';
  if (/certificate|x509|SSL|TLS|self.signed|unable to verify/i.test(reason))
    return 'The TLS handshake failed: check that DOCKER_CERT_PATH holds ca.pem, cert.pem and key.pem issued by the engine\'s CA and not expired.';
  if (/no answer within/.test(reason))
    return 'The engine did not answer in time: it may be starting, overloaded or behind a firewall; check its log.';
  if (endpoint.kind === 'ssh')
    return 'Check that `ssh HOST docker version` works without a prompt (key in your agent, host key known).';
  return 'Check that the engine runs and that DOCKER_HOST points at it (`docker version` should answer).';
}
