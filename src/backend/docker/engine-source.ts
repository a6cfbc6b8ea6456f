import type { EngineClient } from '../../engine/engine-client.ts';
import { BASE_ALIAS, LOCAL_CLI_IMAGE } from '../../engine/images/image-names.ts';
import type { EngineImages } from '../../engine/images/local-images.ts';
import type { ImageSupply } from '../../engine/images/supply.ts';
import type { IsolationMode } from '../../engine/nested/isolation.ts';
import type { NestedEngine } from '../../engine/nested/nested-engine.ts';
import { provision, type ProvisionOptions } from '../../engine/nested/provision.ts';
import { EnginePool } from '../../engine/pool.ts';
import type { JobSpec } from '../backend.ts';
import { isDockerImage, standInFor } from './job-images.ts';
import { prepareStepSlots } from './step-slot.ts';
import { prepareWarmContainers } from './warm-container.ts';
import type { PlanContainer } from '../../pipeline/plan.ts';
import { imageExists } from '../../engine/images/local-images.ts';
import { pullInto } from '../../engine/images/supply.ts';

/** Where the Docker backend gets each job's engine, and what becomes of it after the job. */
export interface EngineSource {
  acquire(spec: JobSpec): Promise<NestedEngine>;
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

function baseOptions(s: EngineSettings): ProvisionOptions {
  return {
    host: s.host,
    isolation: s.isolation ?? 'auto',
    ...(s.engineImages ? { engineImages: s.engineImages } : {}),
    ...daemonOf(s),
  };
}

/** The image supply's mirror, and the registries the operator lets jobs reach without TLS. */
function daemonOf(s: EngineSettings): Pick<ProvisionOptions, 'daemon'> {
  const supply = s.supply?.daemonOptions();
  const insecure = [...(supply?.insecureRegistries ?? []), ...(s.insecureRegistries ?? [])];
  if (!supply && !insecure.length) return {};
  return { daemon: { ...supply, ...(insecure.length ? { insecureRegistries: insecure } : {}) } };
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
    prepare: async (engine) => {
      for (const image of warm.images ?? []) if ((await imageExists(s.host.docker, image)) && !(await imageExists(engine.docker, image))) await pullInto(engine, image).catch(() => undefined);
      await prepareStepSlots(engine, warm.stepImage, warm.stepSlots);
      await prepareWarmContainers(engine, warm.containers ?? []);
    },
  });
  pool.on('error', (err: Error) => warm.onError?.(err));
  pool.on('ready', (engine: NestedEngine) => warm.onReady?.(engine));
  return {
    acquire: () => pool.acquire(),
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
