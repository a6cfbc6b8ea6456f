import { randomBytes } from 'node:crypto';
import { errorMessage, NestorError } from '../../errors.ts';
import { cleanupOrphans } from '../../engine/cleanup.ts';
import { ping } from '../../engine/engine-client.ts';
import type { NestedEngine } from '../../engine/nested/nested-engine.ts';
import type {
  Availability,
  Backend,
  JobSpec,
  PreparedStep,
  RunningContainer,
  ServiceSpec,
  ServiceStartOptions,
  SetupOptions,
  StartOptions,
  StepSpec,
} from '../backend.ts';
import { attachOutput } from './container-output.ts';
import { DockerJob } from './docker-job.ts';
import { execStep } from './exec-step.ts';
import { given, provisioned, warmPool, withRunnerVolumes, type EngineSettings, type EngineSource, type WarmEngines } from './engine-source.ts';
import { removeJobObjects, setUpInEngine } from './job-setup.ts';
import { PullUnauthorizedError } from './pull-auth.ts';
import { pullFallbackNotices } from './pull-fallbacks.ts';
import { DockerContainer } from './running-container.ts';
import { startService } from './services.ts';
import { readWorkspace } from './workspace-archive.ts';

export interface DockerBackendOptions extends EngineSettings {
  /** Engines kept warm for the next jobs (a runner's `--warm`); by default one is provisioned per job. */
  warm?: WarmEngines;
  /** Every job on this engine, which stays the caller's (tests, benchmarks). */
  engine?: NestedEngine;
}

/** What a cancelled set-up rejects with. */
class SetupCancelledError extends NestorError {
  constructor() {
    super('NESTOR_CANCELLED', 'The job was cancelled while it was being set up', 'Nothing to do: it was asked for.');
  }
}

/**
 * Nestor's Docker backend: each job in a nested engine of its own (the strongest isolation the
 * host offers, rootless by default), or, in `socket` mode, on the host's own engine, where the
 * job's objects are made on a bridge network of its own and removed one by one. In a nested
 * engine every container shares the engine's network namespace; steps reach the engine by TLS
 * (engine-transport.ts); a `commands` step starts in a container started ahead, waiting at its
 * gate (step-gate.ts, step-starter.ts, a warm engine's step slots).
 */
export class DockerBackend implements Backend<DockerJob> {
  readonly name = 'docker';
  private readonly settings: EngineSettings;
  private readonly engines: EngineSource;

  constructor(opts: DockerBackendOptions) {
    this.settings = opts;
    this.engines = opts.engine ? given(opts.engine) : opts.warm ? warmPool(opts, opts.warm) : provisioned(opts);
  }

  /** Warm engines ready for the next job (with their step slots). */
  get readyEngines(): number {
    return this.engines.available;
  }

  /** Starts keeping engines warm (with `warm`): a runner does once it is registered. */
  warmUp(): void {
    this.engines.start();
  }

  async available(): Promise<Availability> {
    try {
      await ping(this.settings.host);
      return { ok: true, detail: `Docker engine at ${this.settings.host.address}, isolation ${this.settings.isolation ?? 'auto'}` };
    } catch (err) {
      return { ok: false, reason: errorMessage(err), hint: err instanceof NestorError ? err.hint : 'Check that the Docker engine runs and DOCKER_HOST points at it.' };
    }
  }

  async setupJob(asked: JobSpec, opts: SetupOptions): Promise<DockerJob> {
    const startedAt = Date.now();
    const spec = withRunnerVolumes(asked, this.settings.volumes);
    const id = `nestor-job-${randomBytes(4).toString('hex')}`;
    const engine = await this.engines.acquire(spec, opts.signal).catch((err: unknown) => {
      throw opts.signal.aborted ? new SetupCancelledError() : err;
    });
    // Cancelling removes the engine at once: whatever the set-up waits on fails fast.
    const onAbort = () => void this.engines.release(engine).catch(() => undefined);
    if (opts.signal.aborted) {
      await this.engines.release(engine).catch(() => undefined);
      throw new SetupCancelledError();
    }
    opts.signal.addEventListener('abort', onAbort, { once: true });
    try {
      for (const n of engine.notices) opts.notice(n);
      opts.notice(`engine ${engine.name} (${engine.isolation}) ready in ${Math.round(engine.readyMs)} ms${engine.sharedImages.length ? `, ${engine.sharedImages.length} image(s) shared from the host` : ''}`);
      opts.engineReady?.({ name: engine.name, isolation: engine.isolation, readyMs: engine.readyMs });
      const { ctx, warm } = await setUpInEngine(id, engine, spec, opts);
      const job = new DockerJob(ctx, spec, warm, startedAt, opts.notice);
      if (opts.signal.aborted) {
        await this.teardownJob(job, { cancelled: true });
        throw new SetupCancelledError();
      }
      return job;
    } catch (err) {
      if (!opts.signal.aborted) {
        // A refused pull has said why; the image cache had no part in it.
        if (!(err instanceof PullUnauthorizedError)) for (const n of await pullFallbackNotices(engine, startedAt)) opts.notice(n);
        await removeJobObjects(engine, id);
      }
      await this.releaseEngine(engine, opts.notice);
      throw err;
    } finally {
      opts.signal.removeEventListener('abort', onAbort);
    }
  }

  startService(job: DockerJob, service: ServiceSpec, opts: ServiceStartOptions): Promise<RunningContainer> {
    return startService(job.ctx, job, service, opts);
  }

  async startStep(job: DockerJob, step: StepSpec, opts: StartOptions): Promise<RunningContainer> {
    if (step.execIn !== undefined) return execStep(job.ctx, job, job.starter.containerOf(step.execIn), step, opts);
    const options = job.starter.options(step);
    // A shell in it (nestor jobs shell) has the step's variables and directory, which a gated step's container got at its gate.
    const place = { docker: job.ctx.docker, env: options.Env ?? [], ...(options.WorkingDir ? { workingDir: options.WorkingDir } : {}), ...(options.User !== undefined ? { user: options.User } : {}) };
    if (job.starter.gated(step)) {
      const { armed, run } = await job.starter.take(step);
      armed.release(opts.sink, run);
      return new DockerContainer(step.name, armed.container, job, opts.signal, { ended: armed.ended, finished: armed.finished }, place);
    }
    const warm = job.starter.adoptWarm(step, opts.sink);
    if (warm) return new DockerContainer(step.name, warm.container, job, opts.signal, { ended: warm.ended }, place);
    const container = await job.ctx.docker.createContainer(options);
    const { ended } = await attachOutput(container, opts.sink);
    await container.start();
    return new DockerContainer(step.name, container, job, opts.signal, { ended }, place);
  }

  /** A gated step is armed ahead, a few at a time (StepStarter); any other gains nothing. */
  prepareStep(job: DockerJob, step: StepSpec): PreparedStep | undefined {
    if (!job.starter.gated(step) || !job.starter.room) return undefined;
    job.starter.armAhead(step);
    return { start: (opts) => this.startStep(job, step, opts), discard: () => job.starter.drop(step) };
  }

  readWorkspace(job: DockerJob, paths: string[]): Promise<AsyncIterable<Uint8Array>> {
    return readWorkspace(job.ctx, job.workspace, job.image, paths);
  }

  explainFailure(job: DockerJob): Promise<string[]> {
    return pullFallbackNotices(job.ctx.engine, job.startedAt);
  }

  /**
   * Containers still at their gate exit; on the host's engine (socket mode) the job's objects
   * are removed one by one, unless on a cancel, when the engine's own removal takes them; then
   * the engine goes (a nested one with everything in it), unless it is the caller's.
   */
  teardownJob(job: DockerJob, opts: { cancelled?: boolean } = {}): Promise<void> {
    job.beginTeardown();
    job.teardown ??= (async () => {
      job.starter.close();
      if (!opts.cancelled) await removeJobObjects(job.ctx.engine, job.id);
      await this.releaseEngine(job.ctx.engine, job.notice);
    })();
    return job.teardown;
  }

  async reclaim(): Promise<{ removed: string[] }> {
    const removed = await cleanupOrphans(this.settings.host.docker);
    return { removed: removed.containers };
  }

  close(): Promise<void> {
    return this.engines.close();
  }

  private releaseEngine(engine: NestedEngine, notice: (text: string) => void): Promise<void> {
    return this.engines.release(engine).catch((err: unknown) => notice(`could not remove engine ${engine.name}: ${errorMessage(err)}; run \`nestor engine cleanup\``));
  }
}
