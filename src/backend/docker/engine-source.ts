import type { EngineClient } from '../../engine/engine-client.ts';
import { BASE_ALIAS, LOCAL_CLI_IMAGE } from '../../engine/images/image-names.ts';
import type { EngineImages } from '../../engine/images/local-images.ts';
import type { ImageSupply } from '../../engine/images/supply.ts';
import type { IsolationMode } from '../../engine/nested/isolation.ts';
import type { NestedEngine } from '../../engine/nested/nested-engine.ts';
import { provision, type ProvisionOptions } from '../../engine/nested/provision.ts';
import { EnginePool } from '../../engine/pool.ts';
import type { JobSpec, MountIntent } from '../backend.ts';
import { isDockerImage, standInFor } from './job-images.ts';
import { prepareStepSlots } from './step-slot.ts';
import { prepareWarmContainers } from './warm-container.ts';
import type { PlanContainer } from '../../pipeline/plan.ts';
import { imageExists } from '../../engine/images/local-images.ts';
import { pullInto } from '../../engine/images/supply.ts';

/** Where the Docker backend gets each job's engine, and what becomes of it after the job. */
export interface EngineSource {
  /** An engine for the job; `signal` lets a cancelled job stop waiting for a warm one. */
  acquire(spec: JobSpec, signal?: AbortSignal): Promise<NestedEngine>;
  /** The job is done with it: a source's own engines are destroyed, with everything in them. */
  release(engine: NestedEngine): Promise<void>;
  /** Warm engines ready for the next job. */
  readonly available: number;
  /** Starts keeping engines warm, where the source does. */
  start(): void;
  close(): Promise<void>;
}

export interface EngineSettings {
  host: EngineClient;
  isolation?: IsolationMode;
  supply?: ImageSupply;
  /** Images nested engines start from instead of Nestor's own (NESTOR_ROOTLESS_IMAGE, NESTOR_DIND_IMAGE). */
  engineImages?: EngineImages;
  /** Registries jobs' engines pull from over plain HTTP (NESTOR_INSECURE_REGISTRIES). */
  insecureRegistries?: string[];
  /** Each job engine's memory and CPUs (its sidecar's HostConfig.Memory and NanoCpus); default provision's DEFAULTS. */
  memoryMb?: number;
  cpus?: number;
  /** An existing host network every job engine joins, instead of a network made for each. */
  network?: string;
  /** Docker Hub mirrors, after the image supply's own. */
  registryMirrors?: string[];
  /** The nested daemon's default log driver and options, for the containers jobs start themselves. */
  log?: { driver?: string; opts: Record<string, string> };
  /** Other daemon.json settings of the nested daemon (`default-runtime`, `runtimes`…). */
  daemonConfig?: Record<string, unknown>;
  /** Host folders every step and service of every job mounts (a trusted runner's extra volumes). */
  volumes?: HostVolume[];
}

/** A host folder `source` mounted at `target` in every container of a job. */
export interface HostVolume {
  source: string;
  target: string;
  readOnly: boolean;
}

export interface WarmEngines {
  /** Engines kept started for the next jobs. */
  size: number;
  /** The image of the step containers each warm engine starts ahead (its step slots). */
  stepImage: string;
  /** How many (0: none). */
  stepSlots: number;
  /**
   * Images each warm engine pulls before it is ready, where the host has them: the runner's
   * GitHub image, which every GitHub job's container needs and which takes seconds to pull.
   */
  images?: string[];
  /**
   * Long-running containers each warm engine starts ahead, for a job whose detached step has
   * the same definition to adopt (warm-container.ts): a GitHub job's container.
   */
  containers?: PlanContainer[];
  onReady?: (engine: NestedEngine) => void;
  onError?: (err: Error) => void;
}

/** What every engine of these settings is made with, warm or for one job. */
export function baseOptions(s: EngineSettings): ProvisionOptions {
  return {
    host: s.host,
    isolation: s.isolation ?? 'auto',
    ...(s.engineImages ? { engineImages: s.engineImages } : {}),
    ...(s.memoryMb !== undefined ? { memoryMb: s.memoryMb } : {}),
    ...(s.cpus !== undefined ? { cpus: s.cpus } : {}),
    ...(s.network ? { network: s.network } : {}),
    // Warm engines are made before their job is known: the runner's volumes are there from the start.
    ...(s.volumes?.length ? { hostPaths: [...new Set(s.volumes.map((v) => v.source))] } : {}),
    ...daemonOf(s),
  };
}

/**
 * The image supply's mirror (first, so that images the host has never leave it), the
 * operator's mirrors, the registries the operator lets jobs reach without TLS, and the
 * operator's log options and daemon.json settings.
 */
function daemonOf(s: EngineSettings): Pick<ProvisionOptions, 'daemon'> {
  const supply = s.supply?.daemonOptions();
  const insecure = [...(supply?.insecureRegistries ?? []), ...(s.insecureRegistries ?? [])];
  const mirrors = [...(supply?.registryMirrors ?? []), ...(s.registryMirrors ?? [])];
  const daemon = {
    ...supply,
    ...(insecure.length ? { insecureRegistries: insecure } : {}),
    ...(mirrors.length ? { registryMirrors: mirrors } : {}),
    ...(s.log?.driver ? { logDriver: s.log.driver } : {}),
    ...(s.log && Object.keys(s.log.opts).length ? { logOpts: s.log.opts } : {}),
    ...(s.daemonConfig && Object.keys(s.daemonConfig).length ? { config: s.daemonConfig } : {}),
  };
  return Object.keys(daemon).length ? { daemon } : {};
}

/** The job with the runner's volumes mounted in each of its containers (but where it mounts something itself). */
export function withRunnerVolumes<S extends JobSpec>(spec: S, volumes: readonly HostVolume[] | undefined): S {
  if (!volumes?.length) return spec;
  const add = <C extends { mounts: MountIntent[] }>(c: C): C => ({
    ...c,
    mounts: [...c.mounts, ...volumes.filter((v) => !c.mounts.some((m) => m.target === v.target)).map((v): MountIntent => ({ kind: 'host', path: v.source, target: v.target, readOnly: v.readOnly }))],
  });
  return { ...spec, steps: spec.steps.map(add), services: spec.services.map(add) };
}

/** The engine made for one job: its images shared, its host paths mountable, its name on it. */
export function jobEngineOptions(spec: JobSpec, s: EngineSettings): ProvisionOptions {
  const hostPaths = [...new Set([...spec.steps, ...spec.services].flatMap((c) => c.mounts.flatMap((m) => (m.kind === 'host' ? [m.path] : []))))];
  return {
    ...baseOptions(s),
    // A local image stands in for docker:* images where those cannot be pulled; sharing it
    // (where layers can be shared) costs nothing and saves copying it when it is needed.
    images: [...spec.images, ...new Set(spec.images.filter(isDockerImage).map(standInFor))],
    ...(hostPaths.length ? { hostPaths } : {}),
    extraLabels: { 'dev.nestor.job-name': spec.name.replace(/[^\w.=-]+/g, '_').slice(0, 60) },
  };
}

/** One engine provisioned for each job, and destroyed after it. */
export function provisioned(s: EngineSettings): EngineSource {
  return {
    acquire: (spec) => provision(jobEngineOptions(spec, s)),
    release: (engine) => engine.destroy(),
    available: 0,
    start: () => undefined,
    close: async () => undefined,
  };
}

/**
 * A runner's warm engines: `size` kept started, each with its step slots armed (step-slot.ts)
 * and its warm containers started (warm-container.ts), none ever used twice. Before `start`, or past what is warm, one is started cold for the job.
 */
export function warmPool(s: EngineSettings, warm: WarmEngines): EngineSource {
  const pool = new EnginePool({
    size: warm.size,
    engine: { ...baseOptions(s), images: [BASE_ALIAS, LOCAL_CLI_IMAGE] },
    prepare: async (engine, signal) => {
      for (const image of warm.images ?? []) if ((await imageExists(s.host.docker, image)) && !(await imageExists(engine.docker, image))) await pullInto(engine, image, signal).catch(() => undefined);
      signal.throwIfAborted();
      await prepareStepSlots(engine, warm.stepImage, warm.stepSlots);
      await prepareWarmContainers(engine, warm.containers ?? []);
    },
  });
  pool.on('error', (err: Error) => warm.onError?.(err));
  pool.on('ready', (engine: NestedEngine) => warm.onReady?.(engine));
  return {
    acquire: (_spec, signal) => pool.acquire(signal),
    release: (engine) => pool.release(engine),
    get available() {
      return pool.available;
    },
    start: () => void pool.start(),
    close: () => pool.close(),
  };
}

/** The caller's engine for every job, which the caller keeps (tests, benchmarks). */
export function given(engine: NestedEngine): EngineSource {
  return {
    acquire: async () => engine,
    release: async () => undefined,
    available: 0,
    start: () => undefined,
    close: async () => undefined,
  };
}
