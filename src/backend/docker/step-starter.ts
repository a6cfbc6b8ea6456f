import type Docker from 'dockerode';
import type { StepSpec } from '../backend.ts';
import { ArmedStep } from './armed-step.ts';
import { containerSafeName } from './container-name.ts';
import { containerOptions } from './container-spec.ts';
import type { JobContext } from './job-context.ts';
import type { GateRelease } from './step-gate.ts';
import { environmentOf, fitsSlot, type StepSlot } from './step-slot.ts';
import { fitsWarm, type WarmContainer } from './warm-container.ts';

/** How many steps may wait at their gate ahead of being able to run. */
const LOOKAHEAD = 4;

/**
 * Where a job's `commands` steps start: the warm engine's slot when the step fits it, else a
 * gated container armed while the steps it depends on were running, else one armed there and
 * then. Steps with their own entrypoint, detached steps, and every step on the host's own
 * engine (socket mode, where nothing may linger) start as plain containers, or adopt the warm
 * engine's container of the same definition (warm-container.ts); a step run inside another
 * one's container (`execIn`) is an exec there (exec-step.ts).
 */
export class StepStarter {
  private readonly ctx: JobContext;
  /** Slots no step has claimed yet. */
  private readonly free: StepSlot[];
  /** Slots claimed ahead by steps waiting on their dependencies. */
  private readonly reserved = new Map<string, StepSlot>();
  private readonly ahead = new Map<string, Promise<ArmedStep>>();
  private readonly steps: StepSpec[];
  /** Warm containers no step has adopted yet. */
  private readonly warm: WarmContainer[];
  /** Detached steps' containers that are not named after the job (adopted warm ones). */
  private readonly adopted = new Map<string, Docker.Container>();

  constructor(ctx: JobContext, slots: StepSlot[], steps: StepSpec[] = [], warm: WarmContainer[] = []) {
    this.ctx = ctx;
    this.free = [...slots];
    this.steps = steps;
    this.warm = [...warm];
  }

  gated(step: StepSpec): boolean {
    return this.ctx.disposable && step.script !== undefined && !step.detach && step.execIn === undefined;
  }

  options(step: StepSpec): Docker.ContainerCreateOptions {
    // A step may share a service's name (Woodpecker allows it): its container's name must not.
    const own = !step.detach && this.ctx.localNames.includes(step.name) ? `step-${containerSafeName(step.name)}` : containerSafeName(step.name);
    return { ...containerOptions(this.ctx, step, 'step', [containerSafeName(step.name)]), name: `${this.ctx.id}-${own}` };
  }

  /** Whether another step may be armed ahead now (a claimed slot costs nothing). */
  get room(): boolean {
    return this.ahead.size < LOOKAHEAD;
  }

  isArmed(step: StepSpec): boolean {
    return this.ahead.has(step.name) || this.reserved.has(step.name);
  }

  /**
   * Readies the step now, so that it can run the moment its dependencies are done: claims a
   * free slot it fits, else starts its own container.
   */
  armAhead(step: StepSpec): void {
    if (!this.gated(step) || this.isArmed(step)) return;
    const options = this.options(step);
    const slot = this.claimSlot(options);
    if (slot) {
      this.reserved.set(step.name, slot);
      return;
    }
    const armed = ArmedStep.arm(this.ctx.docker, options);
    // Its failure is the step's, reported when the step runs.
    armed.catch(() => undefined);
    this.ahead.set(step.name, armed);
  }

  /** The armed container to run a gated step in, and what to send through its gate. */
  async take(step: StepSpec): Promise<{ armed: ArmedStep; run: Omit<GateRelease, 'token'> }> {
    const script = step.script ?? '';
    const ahead = this.ahead.get(step.name);
    this.ahead.delete(step.name);
    if (ahead) return { armed: await ahead, run: { script } };
    const options = this.options(step);
    const slot = this.reserved.get(step.name) ?? this.claimSlot(options);
    this.reserved.delete(step.name);
    if (slot) {
      // The slot was made before the step was known: its environment and directory go through the gate.
      return { armed: slot.armed, run: { script, environment: environmentOf(options), workingDir: step.workingDir } };
    }
    return { armed: await ArmedStep.arm(this.ctx.docker, options), run: { script } };
  }

  /**
   * The warm container a detached step can take instead of starting its own, with its output
   * now sent to the step's sink; it is the step's from then on (execs find it by the step's name).
   */
  adoptWarm(step: StepSpec, sink: WarmContainer['sink']): WarmContainer | undefined {
    if (!step.detach || step.execIn !== undefined) return undefined;
    const options = this.options(step);
    const execs = this.steps.filter((s) => s.execIn === step.name).map((s) => containerOptions(this.ctx, s, 'step', []));
    const i = this.warm.findIndex((w) => fitsWarm(w, { name: step.name, options }, execs));
    if (i < 0) return undefined;
    const [warm] = this.warm.splice(i, 1) as [WarmContainer];
    warm.sink = sink;
    this.adopted.set(step.name, warm.container);
    return warm;
  }

  /** The container of a detached step, which steps run in by exec. */
  containerOf(step: string): Docker.Container {
    return this.adopted.get(step) ?? this.ctx.docker.getContainer(`${this.ctx.id}-${containerSafeName(step)}`);
  }

  /** The step will not run: a slot it claimed is free again; a container armed for it exits. */
  drop(step: StepSpec): void {
    const slot = this.reserved.get(step.name);
    this.reserved.delete(step.name);
    if (slot) this.free.push(slot);
    this.ahead.get(step.name)?.then((a) => a.dispose(), () => undefined);
    this.ahead.delete(step.name);
  }

  /** At the job's end: every container still waiting at its gate exits. */
  close(): void {
    for (const slot of this.reserved.values()) this.free.push(slot);
    this.reserved.clear();
    for (const armed of this.ahead.values()) armed.then((a) => a.dispose(), () => undefined);
    this.ahead.clear();
    for (const slot of this.free.splice(0)) slot.armed.dispose();
  }

  private claimSlot(options: Docker.ContainerCreateOptions): StepSlot | undefined {
    const i = this.free.findIndex((s) => fitsSlot(s, options));
    return i < 0 ? undefined : this.free.splice(i, 1)[0];
  }
}
