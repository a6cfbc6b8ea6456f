import { connect, ping, type EngineClient } from '../engine/engine-client.ts';
import { parseDockerHost, type SshLogin } from '../engine/docker-host.ts';
import { NestorError } from '../errors.ts';

/** Where an application's functions run, when not on this server's own engine. */
export interface DeployTarget {
  /** ssh://user@host[:port], or tcp://host:port (always with TLS). */
  host: string;
  /** For tcp:// targets: the directory with ca.pem, cert.pem and key.pem. */
  certPath?: string;
}

export class TargetRefusedError extends NestorError {
  constructor(host: string, why: string) {
    super('NESTOR_TARGET_REFUSED', `Deploy target ${host}: ${why}`, 'Use ssh://USER@HOST, or tcp://HOST:2376 with certPath naming a directory holding ca.pem, cert.pem and key.pem.');
  }
}

/** Checks a target before it is stored: only ssh:// and TLS-protected TCP are accepted. */
export function checkTarget(target: DeployTarget): void {
  const scheme = /^([a-z]+):\/\//.exec(target.host)?.[1];
  if (scheme === 'ssh') return void parseDockerHost(target.host);
  if (scheme === 'tcp' || scheme === 'https') {
    if (!target.certPath) throw new TargetRefusedError(target.host, 'a TCP engine must be reached over TLS, and no certPath was given');
    return void parseDockerHost(target.host, { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: target.certPath });
  }
  throw new TargetRefusedError(target.host, 'only ssh:// and tcp:// (with TLS) targets are supported');
}

type AppKey = { namespace: string; name: string };

/** The engines applications without a deploy target run in: each its own, on this server's host (FunctionEngines). */
export interface AppEngines {
  client(app: AppKey): Promise<EngineClient>;
  /** Sizes it for a deployment; answers what the build log should say when per-instance limits are not kept. */
  resize(app: AppKey, needs: { memoryMb: number; cpus: number }): Promise<string | undefined>;
  retire(app: AppKey): Promise<void>;
}

/**
 * Where each application's functions run: its deploy target when the admin set one (one client
 * per address, made on first use and checked with a ping), else its own isolated engine.
 */
export class TargetClients {
  readonly local: AppEngines;
  private readonly sshLogin: SshLogin;
  private readonly clients = new Map<string, EngineClient>();

  /** `sshLogin`: the server's own ssh agent and key, which ssh:// targets are reached with. */
  constructor(local: AppEngines, sshLogin: SshLogin = {}) {
    this.local = local;
    this.sshLogin = sshLogin;
  }

  async client(app: AppKey, target: DeployTarget | null): Promise<EngineClient> {
    if (!target) return this.local.client(app);
    const key = `${target.host} ${target.certPath ?? ''}`;
    let client = this.clients.get(key);
    if (!client) {
      checkTarget(target);
      const endpoint = target.certPath ? parseDockerHost(target.host, { DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: target.certPath }) : parseDockerHost(target.host);
      if (endpoint.kind === 'ssh' && Object.keys(this.sshLogin).length) endpoint.login = this.sshLogin;
      client = connect(endpoint);
      await ping(client, 15_000);
      this.clients.set(key, client);
    }
    return client;
  }
}
