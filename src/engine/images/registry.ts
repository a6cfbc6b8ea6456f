import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import bcrypt from 'bcryptjs';
import type Docker from 'dockerode';
import { pack } from 'tar-stream';
import { sleep } from '../../sleep.ts';
import { NestorError } from '../../errors.ts';
import { LABEL_CREATED, LABEL_PERSISTENT, nestorLabels } from '../labels.ts';
import { firstPresent } from './local-images.ts';
import { LOCAL_REGISTRY_IMAGE, OFFICIAL_REGISTRY_IMAGE } from './image-names.ts';

export const REGISTRY_CONTAINER = 'nestor-registry';
export const READONLY_REGISTRY_CONTAINER = 'nestor-registry-ro';
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
  /** Who may write: Nestor itself (the mirror, the publisher, GitOps builds). Never a job. */
  credentials: { username: string; password: string };
  /** The `Authorization` header value for `credentials`. */
  authorization: string;
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
 *
 * It asks for a password on every request, so that nothing a job runs can push over, or delete,
 * what other jobs and deployed functions pull: jobs reach its content only through the mirror
 * (read-only, see supply.ts), and engines that outlive a Nestor process through a read-only
 * instance (`ensureReadOnlyRegistry`). The password is made at the registry's creation and kept
 * in its container's labels, which only those with the host engine (root on the host) can read.
 */
export async function ensureRegistry(docker: Docker): Promise<RegistryHandle> {
  const network = await ensureSupplyNetwork(docker);
  const info = await ensureRegistryContainer(docker, REGISTRY_CONTAINER, network.name, writableSpec);
  const password = info.Config.Labels?.[LABEL_REGISTRY_PASSWORD];
  if (!password) throw new RegistryUnavailableError(`${REGISTRY_CONTAINER} has no ${LABEL_REGISTRY_PASSWORD} label; remove it (docker rm -f ${REGISTRY_CONTAINER}) and Nestor makes a new one`);
  const ip = info.NetworkSettings.Networks[network.name]?.IPAddress;
  if (!ip) throw new RegistryUnavailableError(`${REGISTRY_CONTAINER} has no address on ${network.name}`);
  const url = `http://${ip}:5000`;
  const credentials = { username: REGISTRY_USER, password };
  const authorization = `Basic ${Buffer.from(`${REGISTRY_USER}:${password}`).toString('base64')}`;
  await waitForRegistry(url, authorization);
  return { url, gateway: network.gateway, subnet: network.subnet, credentials, authorization };
}

/**
 * A second registry over the same storage, refusing every write (distribution's read-only
 * maintenance mode, and the volume mounted read-only besides). Named engines, which outlive
 * the process whose mirror they could use, pull from it under the alias `nestor-registry`.
 */
export async function ensureReadOnlyRegistry(docker: Docker): Promise<void> {
  await ensureRegistry(docker); // the storage and its layout come from the writable one
  const network = await ensureSupplyNetwork(docker);
  const info = await ensureRegistryContainer(docker, READONLY_REGISTRY_CONTAINER, network.name, readOnlySpec);
  const ip = info.NetworkSettings.Networks[network.name]?.IPAddress;
  if (!ip) throw new RegistryUnavailableError(`${READONLY_REGISTRY_CONTAINER} has no address on ${network.name}`);
  await waitForRegistry(`http://${ip}:5000`, undefined);
}

const REGISTRY_USER = 'nestor';
const LABEL_REGISTRY_PASSWORD = 'dev.nestor.registry.password';
/** Marks a registry made by this version; an older one (open to writes) is replaced. */
const LABEL_REGISTRY_SCHEME = 'dev.nestor.registry.scheme';
const REGISTRY_SCHEME = 'htpasswd-1';
const LIMITS = { Memory: 512 * 1024 * 1024, NanoCpus: 1e9, PidsLimit: 256 } as const;

interface RegistrySpec {
  create: Docker.ContainerCreateOptions;
  /** Files put into the container before its first start. */
  files?: Buffer;
}

async function writableSpec(image: string, network: string): Promise<RegistrySpec> {
  const password = randomBytes(24).toString('base64url');
  const htpasswd = `${REGISTRY_USER}:${bcrypt.hashSync(password, 10)}\n`;
  return {
    create: {
      name: REGISTRY_CONTAINER,
      Image: image,
      Env: [
        'REGISTRY_STORAGE_DELETE_ENABLED=true',
        'REGISTRY_LOG_LEVEL=warn',
        'REGISTRY_HTTP_ADDR=:5000',
        'REGISTRY_AUTH=htpasswd',
        'REGISTRY_AUTH_HTPASSWD_REALM=nestor-image-cache',
        'REGISTRY_AUTH_HTPASSWD_PATH=/nestor-auth/htpasswd',
      ],
      Labels: nestorLabels('registry', { [LABEL_PERSISTENT]: 'true', [LABEL_REGISTRY_SCHEME]: REGISTRY_SCHEME, [LABEL_REGISTRY_PASSWORD]: password }),
      HostConfig: { NetworkMode: network, Binds: [`${REGISTRY_VOLUME}:/var/lib/registry`], ...LIMITS, RestartPolicy: { Name: 'unless-stopped' } },
    },
    files: await tarOf('nestor-auth/htpasswd', htpasswd),
  };
}

async function readOnlySpec(image: string, network: string): Promise<RegistrySpec> {
  return {
    create: {
      name: READONLY_REGISTRY_CONTAINER,
      Image: image,
      Env: ['REGISTRY_STORAGE_MAINTENANCE_READONLY={"enabled":true}', 'REGISTRY_LOG_LEVEL=warn', 'REGISTRY_HTTP_ADDR=:5000'],
      Labels: nestorLabels('registry', { [LABEL_PERSISTENT]: 'true', [LABEL_REGISTRY_SCHEME]: REGISTRY_SCHEME }),
      HostConfig: { NetworkMode: network, Binds: [`${REGISTRY_VOLUME}:/var/lib/registry:ro`], ...LIMITS, RestartPolicy: { Name: 'unless-stopped' } },
    },
  };
}

/**
 * Makes (or finds) a registry container and has it running. Several Nestor processes may get
 * here at once: only the one whose create succeeds puts the files in and starts it; the others
 * wait for it to run rather than start it half made.
 */
async function ensureRegistryContainer(
  docker: Docker,
  name: string,
  network: string,
  spec: (image: string, network: string) => Promise<RegistrySpec>,
): Promise<Docker.ContainerInspectInfo> {
  const container = docker.getContainer(name);
  for (let attempt = 0; attempt < 3; attempt++) {
    let info = await container.inspect().catch(() => undefined);
    if (info && info.Config.Labels?.[LABEL_REGISTRY_SCHEME] !== REGISTRY_SCHEME) {
      // Made by an earlier Nestor, open to writes: replaced; the images in its volume stay.
      await container.remove({ force: true }).catch(() => undefined);
      info = undefined;
    }
    if (!info) {
      await docker.createVolume({ Name: REGISTRY_VOLUME, Labels: nestorLabels('registry', { [LABEL_PERSISTENT]: 'true' }) }).catch(() => undefined);
      const made = await spec(await firstPresent(docker, [OFFICIAL_REGISTRY_IMAGE, LOCAL_REGISTRY_IMAGE]), network);
      try {
        await docker.createContainer(made.create);
      } catch (err) {
        if ((err as { statusCode?: number }).statusCode !== 409) throw err;
        continue; // another process made it first: look again
      }
      try {
        if (made.files) await container.putArchive(made.files, { path: '/' });
        await container.start();
      } catch (err) {
        // Half made, it would have every later start wait for a start that never comes.
        await container.remove({ force: true }).catch(() => undefined);
        throw err;
      }
      return container.inspect();
    }
    if (info.State.Running) return info;
    if (info.State.Status === 'created') {
      // Another process is between its create and its start, or died there (killed, say):
      // after a while the container is taken as abandoned and made again.
      const age = Date.now() - Date.parse(info.Config.Labels?.[LABEL_CREATED] ?? '');
      if ((Number.isFinite(age) && age < HALF_MADE_MS && (await waitUntilRunning(container, HALF_MADE_MS - age))) || (await isRunning(container))) return container.inspect();
      await container.remove({ force: true }).catch(() => undefined);
      continue;
    }
    await container.start().catch((err: { statusCode?: number }) => {
      if (err.statusCode !== 304) throw err;
    });
    return container.inspect();
  }
  throw new RegistryUnavailableError(`${name} kept being replaced by another process while this one started it`);
}

/** How long a registry container may stay created and not started before it is taken as abandoned. */
const HALF_MADE_MS = 15_000;

async function isRunning(container: Docker.Container): Promise<boolean> {
  return (await container.inspect().catch(() => undefined))?.State.Running === true;
}

/** Whether the container runs within `timeoutMs`, started by whoever made it (or by this process if it has stopped since). */
async function waitUntilRunning(container: Docker.Container, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const info = await container.inspect().catch(() => undefined);
    if (!info) return false;
    if (info.State.Running) return true;
    if (info.State.Status !== 'created') {
      await container.start().catch(() => undefined);
      continue;
    }
    await sleep(100);
  }
  return false;
}

function tarOf(path: string, content: string): Promise<Buffer> {
  const p = pack();
  p.entry({ name: path, mode: 0o644 }, content);
  p.finalize();
  return buffer(p);
}

async function ensureSupplyNetwork(docker: Docker): Promise<{ name: string; gateway: string; subnet: string | undefined }> {
  let net = await onlySupplyNetwork(docker);
  // Processes of this host make it one at a time: two made at once would both be kept for a
  // moment, when every use of the name is refused as ambiguous.
  if (!net) net = await withHostLock('supply-network', async () => {
    const found = await onlySupplyNetwork(docker);
    if (found) return found;
    await docker
      .createNetwork({ Name: SUPPLY_NETWORK, Driver: 'bridge', CheckDuplicate: true, Labels: nestorLabels('network', { [LABEL_PERSISTENT]: 'true' }) })
      .catch((err: { statusCode?: number }) => {
        if (err.statusCode !== 409) throw err;
      });
    return onlySupplyNetwork(docker);
  });
  if (!net) throw new RegistryUnavailableError(`network ${SUPPLY_NETWORK} was removed as soon as it was made`);
  const ipam = net.IPAM?.Config?.[0];
  const gateway = ipam?.Gateway;
  if (!gateway) throw new RegistryUnavailableError(`network ${SUPPLY_NETWORK} has no gateway address`);
  return { name: SUPPLY_NETWORK, gateway, subnet: ipam?.Subnet };
}

/**
 * Runs `work` while holding a lock of this host's Nestor processes (a directory in the temporary
 * directory, made atomically). One left by a process that died is taken after a while; past the
 * wait, the work goes on without it rather than never.
 */
async function withHostLock<T>(name: string, work: () => Promise<T>): Promise<T> {
  const lock = join(tmpdir(), `nestor-${name}.lock`);
  let held = false;
  for (const deadline = Date.now() + LOCK_WAIT_MS; !held && Date.now() < deadline; ) {
    try {
      mkdirSync(lock);
      held = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') break;
      const age = Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > LOCK_WAIT_MS) rmSync(lock, { recursive: true, force: true });
      else await sleep(50);
    }
  }
  try {
    return await work();
  } finally {
    if (held) rmSync(lock, { recursive: true, force: true });
  }
}

const LOCK_WAIT_MS = 15_000;

type NetworkInfo = { Id: string; Name: string; Created?: string; IPAM?: { Config?: { Gateway?: string; Subnet?: string }[] } };

/**
 * The supply network, made one if several exist. Docker's duplicate check is not atomic: two
 * Nestor processes starting at the same moment can each make a network of the name, after which
 * every use of the name is refused as ambiguous. Every process keeps the oldest (ties broken by
 * id, so all keep the same one) and removes the others, which nobody has joined yet.
 */
async function onlySupplyNetwork(docker: Docker): Promise<NetworkInfo | undefined> {
  const found = ((await docker.listNetworks({ filters: JSON.stringify({ name: [SUPPLY_NETWORK] }) })) as NetworkInfo[]).filter((n) => n.Name === SUPPLY_NETWORK);
  found.sort((a, b) => (a.Created ?? '').localeCompare(b.Created ?? '') || a.Id.localeCompare(b.Id));
  const [kept, ...extra] = found;
  for (const n of extra) await docker.getNetwork(n.Id).remove().catch(() => undefined);
  return kept;
}

async function waitForRegistry(url: string, authorization: string | undefined, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(`${url}/v2/`, { signal: AbortSignal.timeout(1000), ...(authorization ? { headers: { authorization } } : {}) });
      if (res.ok) return;
      last = `HTTP ${res.status}`;
    } catch (err) {
      last = (err as Error).message;
    }
    await sleep(50);
  }
  throw new RegistryUnavailableError(`${url} did not answer within ${timeoutMs} ms (${last})`);
}
