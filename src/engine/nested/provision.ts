import type Docker from 'dockerode';
import { randomBytes } from 'node:crypto';
import { NestorError, errorMessage } from '../../errors.ts';
import { tarOf } from '../archive.ts';
import { connect, ping, type EngineClient } from '../engine-client.ts';
import { containerLogTail } from '../container-logs.ts';
import { removeLabelled } from '../cleanup.ts';
import { ownerLabels } from '../ownership.ts';
import { LABEL_ENGINE, LABEL_ISOLATION, LABEL_MANAGED, LABEL_PERSISTENT, nestorLabels } from '../labels.ts';
import { makeEngineCertificates } from '../tls-material.ts';
import { dindImage, rootlessImage } from '../images/local-images.ts';
import { READONLY_REGISTRY_CONTAINER, REGISTRY_ALIAS, REGISTRY_CONTAINER } from '../images/registry.ts';
import { CERT_DIR, CLIENT_CERT_DIR, DAEMON_CONFIG_FILE, ENGINE_PORT, ENTRY_SCRIPT, daemonArgs, type DaemonOptions } from './daemon-args.ts';
import { DIND_CAPS_DROPPED, isolationHostConfig, refusesPrivileged, RUNTIME_OF, type IsolationMode, type ResolvedIsolation } from './isolation.ts';
import { BACKGROUND_CPU_SHARES, NestedEngine } from './nested-engine.ts';
import { engineAddress } from './address.ts';
import { uplinkMtu } from '../host-network.ts';
import { planLayerSeed } from './shared-layers.ts';
import type { EngineImages } from '../images/local-images.ts';

export interface ProvisionOptions {
  /** Engine name; generated when absent. Also the DNS name its certificate is valid for. */
  name?: string;
  isolation?: IsolationMode;
  /** OCI runtime for the sysbox/runcvm/kata modes when registered under another name. */
  runtime?: string;
  /** The engine's image; when absent, the first present of `engineImages` and Nestor's defaults. */
  image?: string;
  /** Images preferred over Nestor's own (NESTOR_ROOTLESS_IMAGE) and docker:dind (NESTOR_DIND_IMAGE). */
  engineImages?: EngineImages;
  storage?: { kind: 'tmpfs'; sizeMb?: number } | { kind: 'volume' };
  memoryMb?: number;
  cpus?: number;
  pidsLimit?: number;
  daemon?: DaemonOptions;
  /** Join this existing network instead of making one for the engine. */
  network?: string;
  /**
   * The name of the network made for the engine (default `nestor-NAME`). Engines that several
   * processes may make at once under one name give each attempt its own, so that the
   * container's name alone decides who made it.
   */
  networkName?: string;
  /** Publish the TLS port on the host (0: any free port); always done for non-socket hosts. */
  publishPort?: number;
  /** Named engines (`nestor engine start`) outlive the process that made them. */
  persistent?: boolean;
  /** Mount the host's cgroup tree in `dind-caps` mode (the default). Off only to provoke failures. */
  cgroupBind?: boolean;
  readyTimeoutMs?: number;
  /**
   * Started ahead of any job (a warm pool's refill): its container gets the least CPU weight
   * until a job takes it (NestedEngine.foreground), so that filling the pool never slows the
   * jobs that emptied it.
   */
  background?: boolean;
  /** The engine the sidecar runs on (at the edge: `connect(endpointFromEnv(process.env))`). */
  host: EngineClient;
  extraLabels?: Record<string, string>;
  /**
   * Attach a shared image registry to this engine's network as `nestor-registry`: the
   * read-only one for engines that outlive this process and so cannot use its on-demand
   * mirror; the writable one (which wants Nestor's password) for GitOps builds that push.
   */
  joinRegistry?: 'read-only' | 'writable';
  /**
   * Host images to have in the engine from its start, by sharing the host's extracted layers
   * read-only instead of pulling (local overlay2 hosts only; see shared-layers.ts). When they
   * cannot be shared, `NestedEngine.sharedImages` is empty and the caller pulls them through
   * the image supply instead.
   */
  images?: string[];
  /** Host paths the engine's containers may mount (trusted jobs), at the same path in the sidecar. */
  hostPaths?: string[];
}

export const DEFAULTS = { memoryMb: 2048, cpus: 2, pidsLimit: 4096, readyTimeoutMs: 20_000 } as const;

export class EngineNotReadyError extends NestorError {
  readonly logTail: string;
  constructor(name: string, reason: string, logTail: string) {
    super(
      'NESTOR_ENGINE_NOT_READY',
      `Nested engine ${name} did not become ready: ${reason}\n--- last lines of its dockerd log ---\n${logTail || '(empty)'}`,
      'Read the daemon log above; `nestor doctor` checks privileges, cgroups and storage and names the fix.',
    );
    this.logTail = logTail;
  }
}

/** Another process made an engine of this name meanwhile: nothing of it may be removed. */
export class EngineNameTakenError extends NestorError {
  constructor(name: string) {
    super('NESTOR_ENGINE_NAME_TAKEN', `A nested engine named ${name} is being made by another process`, 'Use that engine (`nestor engine status`), or choose another name.');
  }
}

export class EngineStartError extends NestorError {
  constructor(name: string, mode: string, cause: unknown) {
    super(
      'NESTOR_ENGINE_START_FAILED',
      `Could not start nested engine ${name} in ${mode} mode: ${errorMessage(cause)}`,
      mode === 'dind'
        ? 'The host refuses privileged containers; use --isolation dind-caps (or auto), or run `nestor doctor`.'
        : mode === 'rootless'
          ? 'The host refuses the rootless engine (user namespaces, /dev/net/tun or the setuid newuidmap); `nestor doctor` names the cause and the fix. Untrusted jobs need it; only a runner its operator marks --trusted may use --mode dind-caps instead.'
          : mode in RUNTIME_OF
          ? `Install and register the ${RUNTIME_OF[mode as ResolvedIsolation]} runtime with the host engine, or choose another --isolation.`
          : 'Run `nestor doctor` to see which isolation this host supports.',
      { cause },
    );
  }
}

/** `dind` falling back to `dind-caps` per host, so only the first engine pays for a refused attempt. */
const autoDecision = new Map<string, SidecarIsolation>();
/** What `auto` resolves to per host: asked of the host engine once. */
const strongest = new Map<string, Promise<SidecarIsolation>>();

/**
 * The strongest isolation the host offers: a VM or user-namespace runtime registered with the
 * host engine (sysbox, kata, runcvm), else the rootless engine. Never a mode that gives a job
 * root on the host: those are chosen by name, for trusted work.
 */
export function strongestMode(host: EngineClient): Promise<SidecarIsolation> {
  let decided = strongest.get(host.address);
  if (!decided) {
    decided = host.docker.info().then((info: { Runtimes?: Record<string, unknown> }) => {
      const runtimes = Object.keys(info.Runtimes ?? {});
      for (const mode of ['sysbox', 'kata', 'runcvm'] as const) if (runtimes.includes(RUNTIME_OF[mode]!)) return mode;
      return 'rootless' as const;
    });
    strongest.set(host.address, decided);
    decided.catch(() => strongest.delete(host.address));
  }
  return decided;
}
type SidecarIsolation = Exclude<ResolvedIsolation, 'socket'>;

export function newEngineName(): string {
  return `eng-${randomBytes(4).toString('hex')}`;
}

/** Starts a nested Docker engine and returns it once its API answers over TLS. */
export async function provision(opts: ProvisionOptions): Promise<NestedEngine> {
  const started = performance.now();
  const host = opts.host;
  const name = opts.name ?? newEngineName();
  const requested = opts.isolation ?? 'auto';
  const notices: string[] = [];
  /** The network this call made, by id: the one thing to remove when another process has the name. */
  let madeNetwork: string | undefined;
  const engineLabels = {
    [LABEL_ENGINE]: name,
    ...(opts.persistent ? { [LABEL_PERSISTENT]: 'true' } : ownerLabels()),
    ...opts.extraLabels,
  };

  // Nested bridges inherit the uplink's MTU unless told otherwise: a larger MTU than the path
  // allows drops big packets silently (pulls and TLS handshakes hang).
  const mtu = opts.daemon?.mtu ?? (host.endpoint.kind === 'unix' ? localUplinkMtu() : undefined);
  opts = { ...opts, daemon: { ...opts.daemon, ...(mtu ? { mtu } : {}) } };
  try {
    // The engine's network is made while the rest is prepared: nothing below needs it until the
    // sidecar is created.
    const networkMade = opts.network
      ? Promise.resolve(opts.network)
      : createNetwork(host.docker, opts.networkName ?? `nestor-${name}`, engineLabels, mtu).then((made) => {
          madeNetwork = made.id;
          return made.name;
        });
    networkMade.catch(() => undefined);
    if (requested === 'socket') {
      const network = await networkMade;
      return new NestedEngine({ name, isolation: 'socket', host, client: host, network, notices, readyMs: performance.now() - started });
    }
    let mode: SidecarIsolation = requested === 'auto' ? await strongestMode(host) : requested;
    // The host's image layers belong to the host's root; in a user namespace they would be
    // nobody's, so engines there get their images through the image supply instead.
    const seedable = mode === 'dind' || mode === 'dind-caps';
    const [image, certs, seed] = await Promise.all([
      opts.image ? Promise.resolve(opts.image) : mode === 'rootless' ? rootlessImage(host.docker, opts.engineImages?.rootless) : dindImage(host.docker, opts.engineImages?.dind),
      makeEngineCertificates({ dnsNames: [name, `nestor-${name}`, 'docker', 'localhost'], ipAddresses: ['127.0.0.1'] }),
      seedable ? planLayerSeed(host, opts.images ?? [], opts.daemon?.storageDriver) : Promise.resolve(undefined),
    ]);
    const files = await tarOf([
      ...(seed?.files.map((f) => ({ ...f, name: f.name.slice(1) })) ?? []),
      { name: 'nestor/entry.sh', content: ENTRY_SCRIPT, mode: 0o755 },
      // The operator's own daemon.json settings (daemonArgs points dockerd at the file).
      ...(opts.daemon?.config ? [{ name: DAEMON_CONFIG_FILE.slice(1), content: `${JSON.stringify(opts.daemon.config, null, 2)}\n` }] : []),
      { name: `${CERT_DIR.slice(1)}/ca.pem`, content: certs.ca },
      { name: `${CERT_DIR.slice(1)}/server-cert.pem`, content: certs.server.cert },
      { name: `${CERT_DIR.slice(1)}/server-key.pem`, content: certs.server.key, mode: 0o600 },
      { name: `${CLIENT_CERT_DIR.slice(1)}/ca.pem`, content: certs.client.ca },
      { name: `${CLIENT_CERT_DIR.slice(1)}/cert.pem`, content: certs.client.cert },
      { name: `${CLIENT_CERT_DIR.slice(1)}/key.pem`, content: certs.client.key, mode: 0o600 },
    ]);
    const [network, storageVolume] = await Promise.all([
      networkMade,
      opts.storage?.kind === 'volume' ? createVolume(host.docker, `nestor-${name}-storage`, engineLabels) : Promise.resolve(undefined),
    ]);
    const publish = opts.publishPort !== undefined || host.endpoint.kind !== 'unix';

    if (mode === 'dind' && autoDecision.get(host.address) === 'dind-caps') mode = 'dind-caps';
    const build = (m: SidecarIsolation) =>
      containerSpec({ name, image, mode: m, opts, network, storageVolume, labels: engineLabels, publish, mounts: seed?.mounts ?? [] });
    let container: Docker.Container;
    try {
      container = await createAndStart(host.docker, build(mode), files);
    } catch (err) {
      if (err instanceof EngineNameTakenError) throw err;
      if (mode !== 'dind' || !refusesPrivileged(errorMessage(err))) throw new EngineStartError(name, mode, err);
      notices.push(
        `This host refuses privileged containers (${firstLine(errorMessage(err))}); using the explicit capability set (dind-caps) instead.`,
      );
      mode = 'dind-caps';
      autoDecision.set(host.address, mode);
      await removeLabelled(host.docker, [`${LABEL_MANAGED}=true`, `${LABEL_ENGINE}=${name}`, 'dev.nestor.role=engine']);
      try {
        container = await createAndStart(host.docker, build(mode), files);
      } catch (err2) {
        throw new EngineStartError(name, mode, err2);
      }
    }
    if (opts.joinRegistry) await joinRegistry(host.docker, network, opts.joinRegistry === 'writable' ? REGISTRY_CONTAINER : READONLY_REGISTRY_CONTAINER);

    const address = engineAddress(host, await container.inspect(), network, publish);
    const client = connect({ kind: 'tls', ...address, tls: certs.client, serverName: name });
    await waitReady(name, client, container, opts.readyTimeoutMs ?? DEFAULTS.readyTimeoutMs);
    return new NestedEngine({
      name,
      isolation: mode,
      host,
      client,
      containerId: container.id,
      network,
      tls: certs.client,
      sharedImages: seed?.images ?? [],
      notices,
      readyMs: performance.now() - started,
      background: opts.background === true,
    });
  } catch (err) {
    // The name's objects are another process's: removing them would take its engine away.
    if (err instanceof EngineNameTakenError) {
      if (madeNetwork) await host.docker.getNetwork(madeNetwork).remove().catch(() => undefined);
      throw err;
    }
    // Nothing half-made stays behind: a failed provision removes what it created.
    await removeLabelled(host.docker, [`${LABEL_MANAGED}=true`, `${LABEL_ENGINE}=${name}`]).catch(() => undefined);
    throw err;
  }
}

interface SpecInput {
  name: string;
  image: string;
  mode: SidecarIsolation;
  opts: ProvisionOptions;
  network: string;
  storageVolume: string | undefined;
  labels: Record<string, string>;
  publish: boolean;
  mounts: Docker.MountSettings[];
}

/** The sidecar's container definition: pure, so the tests can read it without an engine. */
export function containerSpec(s: SpecInput): Docker.ContainerCreateOptions {
  const isolation = isolationHostConfig(s.mode, {
    cgroupBind: s.opts.cgroupBind ?? true,
    ...(s.opts.runtime ? { runtime: s.opts.runtime } : {}),
  });
  const storage = s.opts.storage ?? { kind: 'tmpfs' as const };
  const cgroupNest = s.mode === 'dind-caps' && (s.opts.cgroupBind ?? true);
  const rootless = s.mode === 'rootless';
  const config = s.opts.daemon?.config;
  const ownRuntime = config !== undefined && ('runtimes' in config || 'default-runtime' in config);
  return {
    name: `nestor-${s.name}`,
    Image: s.image,
    Hostname: s.name,
    Entrypoint: ['/bin/sh', '/nestor/entry.sh'],
    Cmd: daemonArgs(s.opts.daemon ?? {}),
    Env: [
      `NESTOR_ENGINE=${s.name}`,
      ...(cgroupNest ? ['NESTOR_CGROUP_NEST=1'] : []),
      ...(rootless ? ['NESTOR_ROOTLESS=1'] : []),
      ...(ownRuntime ? ['NESTOR_OWN_RUNTIME=1'] : []),
      ...(s.mode === 'dind-caps' ? [`NESTOR_DROPPED_CAPS=${DIND_CAPS_DROPPED.map((c) => `CAP_${c}`).join(' ')}`] : []),
    ],
    Labels: nestorLabels('engine', { ...s.labels, [LABEL_ISOLATION]: s.mode }),
    ExposedPorts: { [`${ENGINE_PORT}/tcp`]: {} },
    HostConfig: {
      ...isolation,
      NetworkMode: s.network,
      ...(s.mounts.length || s.opts.hostPaths?.length
        ? { Mounts: [...s.mounts, ...(s.opts.hostPaths ?? []).map((p): Docker.MountSettings => ({ Type: 'bind', Source: p, Target: p }))] }
        : {}),
      Memory: (s.opts.memoryMb ?? DEFAULTS.memoryMb) * 1024 * 1024,
      NanoCpus: Math.round((s.opts.cpus ?? DEFAULTS.cpus) * 1e9),
      PidsLimit: s.opts.pidsLimit ?? DEFAULTS.pidsLimit,
      ...(s.opts.background ? { CpuShares: BACKGROUND_CPU_SHARES } : {}),
      ...(storage.kind === 'tmpfs'
        ? { Tmpfs: { '/var/lib/docker': `exec${storage.sizeMb ? `,size=${storage.sizeMb}m` : ''}` } }
        : { Binds: [...(isolation.Binds ?? []), `${s.storageVolume}:/var/lib/docker`] }),
      ...(s.publish ? { PortBindings: { [`${ENGINE_PORT}/tcp`]: [{ HostIp: '', HostPort: s.opts.publishPort ? String(s.opts.publishPort) : '' }] } } : {}),
    },
    NetworkingConfig: { EndpointsConfig: { [s.network]: { Aliases: [s.name, 'docker'] } } },
  };
}

async function joinRegistry(docker: Docker, network: string, registry: string): Promise<void> {
  await docker
    .getNetwork(network)
    .connect({ Container: registry, EndpointConfig: { Aliases: [REGISTRY_ALIAS] } })
    .catch((err: { statusCode?: number }) => {
      if (err.statusCode !== 403 && err.statusCode !== 409) throw err; // already attached
    });
}

async function createAndStart(docker: Docker, spec: Docker.ContainerCreateOptions, files: Buffer): Promise<Docker.Container> {
  const container = await docker.createContainer(spec).catch((err: { statusCode?: number }) => {
    // Container names are unique on an engine: the one atomic claim on an engine's name.
    throw err.statusCode === 409 ? new EngineNameTakenError(String(spec.name).replace(/^nestor-/, '')) : err;
  });
  await container.putArchive(files, { path: '/' });
  await container.start();
  return container;
}

async function createNetwork(docker: Docker, name: string, labels: Record<string, string>, mtu?: number): Promise<{ name: string; id: string }> {
  const made = await docker
    .createNetwork({
      Name: name,
      Driver: 'bridge',
      CheckDuplicate: true,
      Labels: nestorLabels('network', labels),
      ...(mtu ? { Options: { 'com.docker.network.driver.mtu': String(mtu) } } : {}),
    })
    .catch((err: { statusCode?: number }) => {
      // The network comes first, so a second process making the same engine stops here.
      throw err.statusCode === 409 ? new EngineNameTakenError(name.replace(/^nestor-/, '')) : err;
    });
  return { name, id: made.id };
}

async function createVolume(docker: Docker, name: string, labels: Record<string, string>): Promise<string> {
  await docker.createVolume({ Name: name, Labels: nestorLabels('storage', labels) });
  return name;
}

async function waitReady(name: string, client: EngineClient, container: Docker.Container, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError = 'no answer yet';
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    try {
      await ping(client, Math.min(1000, Math.max(50, deadline - Date.now())));
      return;
    } catch (err) {
      lastError = errorMessage(err).split('\n')[0] ?? lastError;
    }
    if (attempt % 5 === 4) {
      const state = (await container.inspect()).State;
      if (!state.Running) {
        throw new EngineNotReadyError(name, `its dockerd exited with code ${state.ExitCode}`, await containerLogTail(container, 30));
      }
    }
    await new Promise((r) => setTimeout(r, 15));
  }
  throw new EngineNotReadyError(name, `no answer within ${timeoutMs} ms (${lastError})`, await containerLogTail(container, 30));
}

function localUplinkMtu(): number | undefined {
  const mtu = uplinkMtu()?.mtu;
  return mtu && mtu < 1500 ? mtu : undefined;
}

function firstLine(text: string): string {
  const line = text.split('\n')[0] ?? text;
  const m = /unable to apply caps: [^:"]+/.exec(line);
  return m ? m[0] : line.slice(0, 160);
}
