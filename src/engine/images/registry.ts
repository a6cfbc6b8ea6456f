import type Docker from 'dockerode';
import { NestorError } from '../../errors.ts';
import { LABEL_PERSISTENT, nestorLabels } from '../labels.ts';
import { firstPresent } from './local-images.ts';
import { LOCAL_REGISTRY_IMAGE, OFFICIAL_REGISTRY_IMAGE } from './image-names.ts';

export const REGISTRY_CONTAINER = 'nestor-registry';
export const SUPPLY_NETWORK = 'nestor-supply';
/** The registry's name on the networks of engines it is attached to. */
export const REGISTRY_ALIAS = 'nestor-registry';
export const REGISTRY_ALIAS_URL = `http://${REGISTRY_ALIAS}:5000`;
const REGISTRY_VOLUME = 'nestor-registry-data';

export interface RegistryHandle {
  /** Base URL the host reaches the registry at. */
  url: string;
  /** Gateway of the supply network: an address of this host that every nested engine can reach. */
  gateway: string;
  /**
   * The supply network's subnet (undefined when Docker does not say): nested engines must not
   * make networks of their own in it, or its gateway, the mirror, stops being reachable.
   */
  subnet: string | undefined;
}

export class RegistryUnavailableError extends NestorError {
  constructor(why: string) {
    super(
      'NESTOR_REGISTRY_UNAVAILABLE',
      `The image cache registry is not available: ${why}`,
      'Run `nestor images bootstrap`, then `nestor doctor`; `docker logs nestor-registry` shows the registry\'s own log.',
    );
  }
}

/**
 * The host-side registry (CNCF distribution) that caches images for every nested engine. It is
 * shared by all engines and processes, so it is persistent: `engine cleanup` leaves it alone.
 */
export async function ensureRegistry(docker: Docker): Promise<RegistryHandle> {
  const network = await ensureSupplyNetwork(docker);
  let info = await docker.getContainer(REGISTRY_CONTAINER).inspect().catch(() => undefined);
  if (!info) {
    const image = await firstPresent(docker, [OFFICIAL_REGISTRY_IMAGE, LOCAL_REGISTRY_IMAGE]);
    await docker
      .createVolume({ Name: REGISTRY_VOLUME, Labels: nestorLabels('registry', { [LABEL_PERSISTENT]: 'true' }) })
      .catch(() => undefined);
    try {
      await docker.createContainer({
        name: REGISTRY_CONTAINER,
        Image: image,
        Env: ['REGISTRY_STORAGE_DELETE_ENABLED=true', 'REGISTRY_LOG_LEVEL=warn', 'REGISTRY_HTTP_ADDR=:5000'],
        Labels: nestorLabels('registry', { [LABEL_PERSISTENT]: 'true' }),
        HostConfig: {
          NetworkMode: network.name,
          Binds: [`${REGISTRY_VOLUME}:/var/lib/registry`],
          Memory: 512 * 1024 * 1024,
          NanoCpus: 1e9,
          PidsLimit: 256,
          RestartPolicy: { Name: 'unless-stopped' },
        },
      });
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 409) throw err; // another process made it first
    }
    info = await docker.getContainer(REGISTRY_CONTAINER).inspect();
  }
  if (!info.State.Running) {
    await docker.getContainer(REGISTRY_CONTAINER).start().catch((err: { statusCode?: number }) => {
      if (err.statusCode !== 304) throw err;
    });
    info = await docker.getContainer(REGISTRY_CONTAINER).inspect();
  }
  const ip = info.NetworkSettings.Networks[network.name]?.IPAddress;
  if (!ip) throw new RegistryUnavailableError(`${REGISTRY_CONTAINER} has no address on ${network.name}`);
  const url = `http://${ip}:5000`;
  await waitForRegistry(url);
  return { url, gateway: network.gateway, subnet: network.subnet };
}

async function ensureSupplyNetwork(docker: Docker): Promise<{ name: string; gateway: string; subnet: string | undefined }> {
  let net = await docker.getNetwork(SUPPLY_NETWORK).inspect().catch(() => undefined);
  if (!net) {
    await docker
      .createNetwork({ Name: SUPPLY_NETWORK, Driver: 'bridge', CheckDuplicate: true, Labels: nestorLabels('network', { [LABEL_PERSISTENT]: 'true' }) })
      .catch((err: { statusCode?: number }) => {
        if (err.statusCode !== 409) throw err;
      });
    net = await docker.getNetwork(SUPPLY_NETWORK).inspect();
  }
  const ipam = (net as { IPAM?: { Config?: { Gateway?: string; Subnet?: string }[] } }).IPAM?.Config?.[0];
  const gateway = ipam?.Gateway;
  if (!gateway) throw new RegistryUnavailableError(`network ${SUPPLY_NETWORK} has no gateway address`);
  return { name: SUPPLY_NETWORK, gateway, subnet: ipam?.Subnet };
}

async function waitForRegistry(url: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new RegistryUnavailableError(`${url} did not answer within ${timeoutMs} ms (${last})`);
}
