import { forward } from './forward.ts';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { connect as tlsConnect, createServer as tlsServer, type TLSSocket } from 'node:tls';
import { makeEngineCertificates } from '../engine/tls-material.ts';
import type { DeployCredentials } from '../repos/deploy-targets.ts';

/** A deploy target as a lease gives it to the runner. */
export interface LeasedTarget {
  url: string;
  credentials: DeployCredentials;
}

/**
 * One job's way to a deploy target: a TLS endpoint of the runner's, on an address of this host
 * that the job's engine reaches, which takes only the client certificate made for this job and
 * forwards each connection to the target's engine (through its sshd, `docker system
 * dial-stdio`, as the docker CLI does for ssh://; or over TLS with the target's own client
 * certificate). The target's credentials stay in this process and a 0700 directory of its own:
 * the job's steps get an address and a certificate good for this gateway only, which closes
 * with the job.
 */
export interface DeployGateway {
  name: string;
  /** What the step's DOCKER_HOST is. */
  dockerHost: string;
  /** The step's DOCKER_CERT_PATH files (ca.pem, cert.pem, key.pem), to copy into its engine. */
  clientDir: string;
  close(): Promise<void>;
}

export async function openDeployGateway(name: string, target: LeasedTarget, listenHost: string, notice: (text: string) => void): Promise<DeployGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'nestor-deploy-'));
  try {
    const certs = await makeEngineCertificates({ dnsNames: ['nestor-deploy'], ipAddresses: [listenHost], validDays: 2 });
    const clientDir = join(dir, 'client');
    mkdirSync(clientDir);
    // Readable by the step's user (any user of the job's engine): good for this gateway only.
    writeFileSync(join(clientDir, 'ca.pem'), certs.ca, { mode: 0o644 });
    writeFileSync(join(clientDir, 'cert.pem'), certs.client.cert, { mode: 0o644 });
    writeFileSync(join(clientDir, 'key.pem'), certs.client.key, { mode: 0o644 });
    const upstream = upstreamOf(name, target, dir, notice);
    const open = new Set<Socket>();
    // Half-open both ways: a client that is done sending (docker run's attach, with no stdin)
    // still reads the container's output to its end.
    const server = tlsServer({ key: certs.server.key, cert: certs.server.cert, ca: certs.ca, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2', allowHalfOpen: true }, (client: TLSSocket) => forward(client, upstream.connect(), open));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, listenHost, () => resolve());
    });
    const port = (server.address() as { port: number }).port;
    return {
      name,
      dockerHost: `tcp://${listenHost}:${port}`,
      clientDir,
      async close() {
        for (const s of open) s.destroy();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await upstream.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

interface Upstream {
  connect(): Duplex;
  close(): Promise<void>;
}

function upstreamOf(name: string, target: LeasedTarget, dir: string, notice: (text: string) => void): Upstream {
  const u = new URL(target.url);
  if (u.protocol === 'tcp:') {
    const tls = target.credentials.tls!;
    return {
      connect: () => tlsConnect({ host: u.hostname, port: Number(u.port), ca: tls.ca, cert: tls.cert, key: tls.key, servername: /^[\d.]+$|:/.test(u.hostname) ? undefined : u.hostname }),
      close: async () => undefined,
    };
  }
  return sshUpstream(name, u, target.credentials, dir, notice);
}

/**
 * ssh with the target's key only (no agent, no ~/.ssh/config), one master connection that every
 * forwarded connection shares (a `docker run` opens several), each running `docker system
 * dial-stdio` on the far side. Its errors go to the job's log, once each.
 */
function sshUpstream(name: string, u: URL, credentials: DeployCredentials, dir: string, notice: (text: string) => void): Upstream {
  const key = join(dir, 'id');
  writeFileSync(key, credentials.sshKey!.endsWith('\n') ? credentials.sshKey! : `${credentials.sshKey}\n`, { mode: 0o600 });
  const known = join(dir, 'known_hosts');
  if (credentials.knownHosts) writeFileSync(known, credentials.knownHosts, { mode: 0o600 });
  else notice(`deploy target ${name}: its host key is not checked (its admin gave no --known-hosts)`);
  const control = join(dir, 'cm');
  const destination = `${decodeURIComponent(u.username)}@${u.hostname}`;
  const options = [
    '-F', '/dev/null', '-i', key, '-o', 'IdentitiesOnly=yes', '-o', 'IdentityAgent=none', '-o', 'BatchMode=yes',
    '-o', credentials.knownHosts ? 'StrictHostKeyChecking=yes' : 'StrictHostKeyChecking=no', '-o', `UserKnownHostsFile=${credentials.knownHosts ? known : '/dev/null'}`, '-o', 'LogLevel=ERROR',
    '-o', 'ControlMaster=auto', '-o', `ControlPath=${control}`, '-o', 'ControlPersist=yes',
    ...(u.port ? ['-p', u.port] : []),
  ];
  const said = new Set<string>();
  return {
    connect() {
      const child = spawn('ssh', [...options, destination, 'docker', 'system', 'dial-stdio'], { stdio: ['pipe', 'pipe', 'pipe'] }); // no agent: IdentityAgent=none
      let err = '';
      child.stderr.on('data', (b: Buffer) => (err = (err + b.toString()).slice(-2000)));
      child.on('exit', (code) => {
        const text = err.trim();
        if (code && text && !said.has(text)) {
          said.add(text);
          notice(`deploy target ${name} (${u.protocol}//${destination}${u.port ? `:${u.port}` : ''}): ${text}`);
        }
      });
      const pipe = Duplex.from({ readable: child.stdout, writable: child.stdin });
      pipe.on('close', () => child.kill());
      return pipe;
    },
    async close() {
      // The master connection outlives the forwarded ones until it is told to go.
      await new Promise<void>((resolve) => {
        const stop = spawn('ssh', [...options, '-O', 'exit', destination], { stdio: 'ignore' });
        stop.on('exit', () => resolve()).on('error', () => resolve());
      });
    },
  };
}
