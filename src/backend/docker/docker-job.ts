import type { JobHandle, JobSpec } from '../backend.ts';
import type { JobContext } from './job-context.ts';
import type { ContainerJob } from './running-container.ts';
import { StepStarter } from './step-starter.ts';
import type { StepSlot } from './step-slot.ts';
import type { WarmContainer } from './warm-container.ts';

/** A job set up by the Docker backend: what its containers share, and what its teardown needs. */
export class DockerJob implements JobHandle, ContainerJob {
  readonly id: string;
  readonly engine: JobHandle['engine'];
  readonly ctx: JobContext;
  /** Where the workspace is in every container. */
  readonly workspace: string;
  /** An image the engine has, for containers that only hold the workspace. */
  readonly image: string | undefined;
  readonly starter: StepStarter;
  /** Since when the engine's log speaks of this job (for explainFailure). */
  readonly startedAt: number;
  /** The set-up's notice: a teardown that cannot remove the engine says so in the job's log. */
  readonly notice: (text: string) => void;
  /** Once begun, the teardown (idempotent). */
  teardown: Promise<void> | undefined;
  private readonly tearing = new AbortController();

  constructor(ctx: JobContext, spec: JobSpec, warm: { slots: StepSlot[]; containers: WarmContainer[] }, startedAt: number, notice: (text: string) => void) {
    this.id = ctx.id;
    this.engine = { name: ctx.engine.name, isolation: ctx.engine.isolation, readyMs: ctx.engine.readyMs };
    this.ctx = ctx;
    this.workspace = spec.workspace;
    this.image = spec.images[0];
    this.starter = new StepStarter(ctx, warm.slots, spec.steps, warm.containers);
    this.startedAt = startedAt;
    this.notice = notice;
  }

  get disposable(): boolean {
    return this.ctx.disposable;
  }

  /** Aborts when the teardown begins: every wait of the job's containers settles then. */
  get torn(): AbortSignal {
    return this.tearing.signal;
  }

  beginTeardown(): void {
    this.tearing.abort();
  }
}
