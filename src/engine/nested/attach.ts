import type Docker from 'dockerode';
import { extract } from 'tar-stream';
import { pipeline } from 'node:stream/promises';
import { NestorError } from '../../errors.ts';
import { connect, type EngineClient } from '../engine-client.ts';
import { LABEL_ENGINE, LABEL_ISOLATION, LABEL_MANAGED } from '../labels.ts';
import type { TlsMaterial } from '../docker-host.ts';
import { CLIENT_CERT_DIR } from './daemon-args.ts';
import { engineAddress } from './address.ts';
import type { ResolvedIsolation } from './isolation.ts';
import { NestedEngine } from './nested-engine.ts';

export class EngineNotFoundError extends NestorError {
  constructor(name: string) {
    super('NESTOR_ENGINE_NOT_FOUND', `No nested engine named ${name}`, 'List engines with `nestor engine status`, or start one with `nestor engine start NAME`.');
  }
}

export async function findEngineContainer(docker: Docker, name: string): Promise<Docker.ContainerInfo | undefined> {
  const list = await docker.listContainers({
    all: true,
    filters: JSON.stringify({ label: [`${LABEL_MANAGED}=true`, `${LABEL_ENGINE}=${name}`, 'dev.nestor.role=engine'] }),
  });
  return list[0];
}

/**
 * A handle on an engine started by another process (`nestor engine start`): the client
 * certificates are read back out of the sidecar, so no state needs to live on this machine.
 */
export async function attachEngine(host: EngineClient, name: string): Promise<NestedEngine> {
  const info = await findEngineContainer(host.docker, name);
  if (!info) throw new EngineNotFoundError(name);
  const container = host.docker.getContainer(info.Id);
  const details = await container.inspect();
  const network = Object.keys(details.NetworkSettings.Networks)[0] ?? '';
  const isolation = (info.Labels[LABEL_ISOLATION] ?? 'dind') as ResolvedIsolation;
  const tls = await readClientCerts(container);
  const address = engineAddress(host, details, network, host.endpoint.kind !== 'unix');
  return new NestedEngine({
    name,
    isolation,
    host,
    client: connect({ kind: 'tls', ...address, tls, serverName: name }),
    containerId: info.Id,
    network,
    tls,
    notices: [],
    readyMs: 0,
  });
}

async function readClientCerts(container: Docker.Container): Promise<TlsMaterial> {
  const archive = (await container.getArchive({ path: CLIENT_CERT_DIR })) as unknown as NodeJS.ReadableStream;
  const files: Record<string, string> = {};
  const ex = extract();
  ex.on('entry', (header, stream, next) => {
    const parts: Buffer[] = [];
    stream.on('data', (c: unknown) => {
      parts.push(c as Buffer);
    });
    stream.on('end', () => {
      files[header.name.split('/').pop() ?? ''] = Buffer.concat(parts).toString('utf8');
      next();
    });
  });
  await pipeline(archive, ex);
  const { 'ca.pem': ca, 'cert.pem': cert, 'key.pem': key } = files;
  if (!ca || !cert || !key) throw new Error(`the engine's client certificates are incomplete in ${CLIENT_CERT_DIR}`);
  return { ca, cert, key };
}
