import type {
  Availability,
  Backend,
  ContainerExit,
  ContainerSpec,
  JobHandle,
  JobSpec,
  OutputSink,
  PreparedStep,
  RunningContainer,
  ServiceSpec,
  ServiceStartOptions,
  SetupOptions,
  StartOptions,
  StepSpec,
  StreamName,
} from './backend.ts';

/**
 * An in-memory backend: no engine, no containers. A container's `script` is read line by line:
 * `echo TEXT` (stdout; `$NAME` is the container's variable), `echo TEXT >&2` (stderr), `exit N`, `sleep MS`, and `wait` (runs until
 * stopped). For tests only: src/backend/backend.test.ts and the scheduler's tests.
 * It exists so that the interface is checked by the compiler and usable, and so that the
 * scheduler can be unit-tested against a backend that needs no Docker.
 */
export interface MemoryJob extends JobHandle {
  spec: JobSpec;
  workspace: Uint8Array;
  secrets: Record<string, string>;
  live: Set<MemoryContainer>;
  torn: AbortController;
}

class MemoryContainer implements RunningContainer {
  readonly name: string;
  private readonly done: Promise<ContainerExit>;
  private readonly job: MemoryJob;

  constructor(job: MemoryJob, spec: ContainerSpec, opts: StartOptions) {
    this.name = spec.name;
    this.job = job;
    job.live.add(this);
    this.done = run(spec, opts.sink, AbortSignal.any([opts.signal, job.torn.signal]));
  }

  wait(): Promise<ContainerExit> {
    return this.done;
  }

  async remove(): Promise<void> {
    this.job.live.delete(this);
  }
}

async function run(spec: ContainerSpec, sink: OutputSink, signal: AbortSignal): Promise<ContainerExit> {
  const stopped = (): ContainerExit => ({ exitCode: 137, oomKilled: false, stopped: true });
  for (const line of (spec.script ?? '').split('\n')) {
    if (signal.aborted) return stopped();
    const echo = /^echo (.*?)( >&2)?$/.exec(line);
    if (echo) {
      const stream: StreamName = echo[2] ? 'stderr' : 'stdout';
      sink.line(stream, echo[1]!.replace(/\$([A-Z_][A-Z0-9_]*)/g, (_w, name: string) => spec.environment[name] ?? ''));
      await sink.full();
      continue;
    }
    const exit = /^exit (\d+)$/.exec(line);
    if (exit) return { exitCode: Number(exit[1]), oomKilled: false, stopped: false };
    const sleep = /^sleep (\d+)$/.exec(line);
    if (sleep) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Number(sleep[1]));
        signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
      });
      if (signal.aborted) return stopped();
      continue;
    }
    if (line === 'wait') {
      await new Promise<void>((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
      return stopped();
    }
  }
  return { exitCode: 0, oomKilled: false, stopped: false };
}

export class MemoryBackend implements Backend<MemoryJob> {
  readonly name = 'memory';
  readonly calls: string[] = [];
  private jobs = 0;

  async available(): Promise<Availability> {
    return { ok: true, detail: 'in memory' };
  }

  async setupJob(spec: JobSpec, opts: SetupOptions): Promise<MemoryJob> {
    this.calls.push(`setup ${spec.name}`);
    if (opts.signal.aborted) throw new Error('cancelled');
    const chunks: Uint8Array[] = [];
    for await (const chunk of opts.workspace?.() ?? []) chunks.push(chunk);
    opts.notice(`job ${spec.name} set up in memory`);
    return {
      id: `memory-job-${++this.jobs}`,
      engine: { name: 'memory', isolation: 'none', readyMs: 0 },
      spec,
      workspace: Buffer.concat(chunks),
      secrets: opts.secrets,
      live: new Set(),
      torn: new AbortController(),
    };
  }

  async startService(job: MemoryJob, service: ServiceSpec, opts: ServiceStartOptions): Promise<RunningContainer> {
    this.calls.push(`service ${service.name}`);
    return new MemoryContainer(job, service, opts);
  }

  async startStep(job: MemoryJob, step: StepSpec, opts: StartOptions): Promise<RunningContainer> {
    this.calls.push(`step ${step.name}`);
    return new MemoryContainer(job, step, opts);
  }

  prepareStep(job: MemoryJob, step: StepSpec): PreparedStep {
    this.calls.push(`prepare ${step.name}`);
    return {
      start: async (opts) => new MemoryContainer(job, step, opts),
      discard: () => this.calls.push(`discard ${step.name}`),
    };
  }

  async readWorkspace(job: MemoryJob, paths: string[]): Promise<AsyncIterable<Uint8Array>> {
    this.calls.push(`read ${paths.join(',')}`);
    return (async function* () {
      yield job.workspace;
    })();
  }

  async teardownJob(job: MemoryJob): Promise<void> {
    this.calls.push(`teardown ${job.spec.name}`);
    job.torn.abort();
    job.live.clear();
  }

  async reclaim(): Promise<{ removed: string[] }> {
    return { removed: [] };
  }

  async close(): Promise<void> {}
}


/** A container of busybox running `script` in the workspace, as the tests write them. */
export const container = (name: string, script: string): ContainerSpec => ({
  name,
  image: 'busybox:latest',
  script,
  environment: {},
  secrets: [],
  privileged: false,
  mounts: [{ kind: 'workspace', target: '/workspace', readOnly: false }],
  engine: { client: true, certDirs: [] },
  workingDir: '/workspace',
});
