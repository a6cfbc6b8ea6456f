import type { NestedEngine } from '../../engine/nested/nested-engine.ts';
import { nestorLabels } from '../../engine/labels.ts';
import { engineNames } from './engine-transport.ts';
import type { JobContext } from './job-context.ts';
import { createWorkspaceVolume } from './workspace-volume.ts';

/**
 * What a warm engine made ahead for the job that will take it: the workspace volume its step
 * slots and warm containers mount, and the volumes (by the name a file gives them) its warm
 * containers mount. The job adopts them all, whether or not its steps use the slots: they are
 * empty, and the engine is the job's alone.
 */
export interface WarmVolumes {
  workspace: string;
  mountpoint: string;
  /** A file's volume name → the volume made for it. */
  named: Map<string, string>;
}

const prepared = new WeakMap<NestedEngine, Promise<WarmVolumes>>();
const WORKSPACE_VOLUME = 'nestor-slot-workspace';

/** The engine's warm workspace, made once however many parts of the preparation ask. */
export function warmVolumes(engine: NestedEngine): Promise<WarmVolumes> {
  let made = prepared.get(engine);
  if (!made) {
    made = createWorkspaceVolume(engine.docker, WORKSPACE_VOLUME, {}).then((mountpoint) => ({ workspace: WORKSPACE_VOLUME, mountpoint, named: new Map<string, string>() }));
    prepared.set(engine, made);
  }
  return made;
}

/** The volume a warm container mounts as `name`, made once. */
export async function warmVolume(engine: NestedEngine, name: string): Promise<string> {
  const volumes = await warmVolumes(engine);
  const existing = volumes.named.get(name);
  if (existing) return existing;
  const made = `nestor-warm-${name}`;
  await engine.docker.createVolume({ Name: made, Labels: nestorLabels('storage', {}) });
  volumes.named.set(name, made);
  return made;
}

/** The engine's warm volumes, once: the job that takes them owns them (none if the engine had no preparation, or it failed). */
export async function takeWarmVolumes(engine: NestedEngine): Promise<WarmVolumes | undefined> {
  const made = prepared.get(engine);
  prepared.delete(engine);
  return made?.catch(() => undefined);
}

/** The context containers made ahead of any job are defined in: a disposable engine's host network, the warm volumes. */
export function warmContext(engine: NestedEngine, volumes: WarmVolumes, localNames: string[]): JobContext {
  return {
    id: 'nestor-slot',
    engine,
    docker: engine.docker,
    network: 'host',
    engineNames: engineNames([]),
    localNames,
    disposable: true,
    workspaceVolume: volumes.workspace,
    workspaceMountpoint: volumes.mountpoint,
    volumes: volumes.named,
    labels: {},
    secrets: {},
  };
}
