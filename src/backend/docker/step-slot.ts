import type Docker from 'dockerode';
import { isDeepStrictEqual } from 'node:util';
import { imageExists } from '../../engine/images/local-images.ts';
import { pullInto } from '../../engine/images/supply.ts';
import type { NestedEngine } from '../../engine/nested/nested-engine.ts';
import type { PlanContainer } from '../../pipeline/plan.ts';
import { ArmedStep } from './armed-step.ts';
import { containerOptions } from './container-spec.ts';
import { exportable } from './step-gate.ts';
import { warmContext, warmVolumes } from './warm-volumes.ts';

/**
 * A warm engine's first step, started before any job is known: a gated container of the
 * default step image with the workspace volume at /workspace, as a `commands` step of a native
 * file has it. The job that gets the engine adopts the volume (warm-volumes.ts), and its first step that has
 * the same container shape runs in the slot, its environment and directory sent through the
 * gate: no container start between the job's start and its first step's process.
 */
export interface StepSlot {
  armed: ArmedStep;
  /** The slot's container definition, to compare a step's with. */
  options: Docker.ContainerCreateOptions;
}

const slots = new WeakMap<NestedEngine, StepSlot[]>();
const WORKSPACE = '/workspace';

/**
 * The container a plain `commands` step of a native file gets (see compile.ts), without its
 * environment: that comes through the gate with the step, the engine's variables included,
 * so the slot's own has none (`client: false`). It has the step's mounts all the same: the
 * workspace, and the engine's client certificates every step gets.
 */
function slotTemplate(image: string): PlanContainer {
  return {
    name: 'slot',
    image,
    script: '',
    environment: {},
    secrets: [],
    privileged: false,
    mounts: [{ kind: 'workspace', target: WORKSPACE, readOnly: false }],
    engine: { client: false, certDirs: [] },
    workingDir: WORKSPACE,
  };
}

/**
 * For a pool's `prepare`: arms `count` slots in a fresh engine. The image comes shared from the
 * host where layers can be shared, else through the image supply (engines in a user namespace):
 * either way before any job waits on it. Each idle slot costs a waiting shell and its shim (a
 * few MB); each saves a step ~200 ms.
 */
export async function prepareStepSlots(engine: NestedEngine, image: string, count: number): Promise<void> {
  if (count < 1 || engine.isolation === 'socket') return;
  if (!(await imageExists(engine.docker, image))) await pullInto(engine, image).catch(() => undefined);
  if (!(await imageExists(engine.docker, image))) return;
  const ctx = warmContext(engine, await warmVolumes(engine), []);
  const options = containerOptions(ctx, slotTemplate(image), 'step', []);
  const armed = await Promise.allSettled(Array.from({ length: count }, (_, i) => ArmedStep.arm(engine.docker, { ...options, name: `nestor-step-slot-${i + 1}` })));
  const ready = armed.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
  slots.set(engine, ready.map((armed) => ({ armed, options })));
  const failed = armed.find((r) => r.status === 'rejected');
  if (failed) throw (failed as PromiseRejectedResult).reason;
}

/** The engine's slots, once: the job that takes them owns them. */
export function takeStepSlots(engine: NestedEngine): StepSlot[] {
  const taken = slots.get(engine) ?? [];
  slots.delete(engine);
  return taken;
}

/**
 * Whether a step can run in the slot: the same image, user, mounts, network, names and privileges;
 * only its environment (names a shell can export) and working directory may differ.
 */
export function fitsSlot(slot: StepSlot, step: Docker.ContainerCreateOptions): boolean {
  const shape = (o: Docker.ContainerCreateOptions) => ({ image: o.Image, user: o.User, host: o.HostConfig, net: o.NetworkingConfig });
  return Object.keys(environmentOf(step)).every(exportable) && isDeepStrictEqual(shape(step), shape(slot.options));
}

/** A container definition's `Env` (`NAME=value` strings) as a map. */
export function environmentOf(options: Docker.ContainerCreateOptions): Record<string, string> {
  return Object.fromEntries((options.Env ?? []).map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
}
