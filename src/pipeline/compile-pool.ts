import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { NestorError, isErrorCode } from '../errors.ts';
import { PipelineError, UnsupportedFeatureError, type PipelineProblem } from './errors.ts';
import { PipelineLimitError, pipelineLimits, type PipelineLimits } from './limits.ts';
import type { PlannedJob } from './plan-graph.ts';
import type { RunFacts } from './when.ts';

/**
 * Compiles pipelines on worker threads, so that a large or hostile submission costs a thread of
 * its own and never the event loop that answers every other request. A small pool, started on
 * the first compile; each thread's heap is capped, and a compile that outlives `compileMs` has
 * its thread ended (and replaced on the next compile) and is refused as over that limit.
 */

/**
 * A pipeline given as text (an API submission), or a repository's files at one commit, written
 * out in `dir` (a push's pipeline: the file or folder `file` names, else the conventional ones).
 */
export type CompileRequest = { pipeline: { text: string; file: string }; limits: PipelineLimits } | { checkout: CheckoutCompile; limits: PipelineLimits };
export interface CheckoutCompile {
  dir: string;
  file?: string;
  /** What the run is (event, ref, commit, changed paths…), as the runner will compile it too. */
  facts: RunFacts & { trusted?: boolean; platforms?: Record<string, string>; secrets?: string[] };
}
export interface SerializedError {
  error: string;
  message: string;
  hint: string;
  problems?: PipelineProblem[];
  limit?: PipelineLimitError['limit'];
}
/** `jobs`: the graph of the pipeline's jobs, for a server that queues each of them. */
export type CompileAnswer = { ok: true; jobs: PlannedJob[] } | { ok: false; error: SerializedError };
type WorkerMessage = CompileAnswer | { ready: true };

export interface CompilePoolOptions {
  /** Threads at most (default: one per spare core, 1 or 2). */
  size?: number;
  limits?: Partial<PipelineLimits>;
  /** Compiles waiting for a thread at most; past it a compile is refused as busy. */
  queue?: number;
}

interface Task {
  request: CompileRequest;
  resolve(jobs: PlannedJob[]): void;
  reject(err: Error): void;
  timer?: NodeJS.Timeout;
}

export class CompilerBusyError extends NestorError {
  constructor(waiting: number) {
    super('NESTOR_COMPILER_BUSY', `${waiting} pipelines are already waiting to be compiled`, 'Retry in a few seconds.');
  }
}

export class CompilePool {
  readonly limits: PipelineLimits;
  private readonly size: number;
  private readonly queueMax: number;
  private readonly idle: Worker[] = [];
  private readonly busy = new Map<Worker, Task>();
  private readonly ready = new WeakSet<Worker>();
  private readonly waiting: Task[] = [];
  private closed = false;

  constructor(opts: CompilePoolOptions = {}) {
    this.limits = pipelineLimits(opts.limits);
    this.size = opts.size ?? Math.max(1, Math.min(2, availableParallelism() - 1));
    this.queueMax = opts.queue ?? 64;
  }

  /** Resolves with the graph of its jobs when the pipeline compiles; rejects with its problems (PipelineError) when not. */
  check(pipeline: { text: string; file: string }): Promise<PlannedJob[]> {
    return this.submit({ pipeline, limits: this.limits });
  }

  /** The same for a repository's files at one commit (its conventional pipeline files, or the one named). */
  checkCheckout(checkout: CheckoutCompile): Promise<PlannedJob[]> {
    return this.submit({ checkout, limits: this.limits });
  }

  private submit(request: CompileRequest): Promise<PlannedJob[]> {
    if (this.closed) return Promise.reject(new NestorError('NESTOR_SERVER_CLOSING', 'The server is stopping', 'Submit again once it is back.'));
    if (this.waiting.length >= this.queueMax) return Promise.reject(new CompilerBusyError(this.waiting.length));
    return new Promise((resolve, reject) => {
      this.waiting.push({ request, resolve, reject });
      this.next();
    });
  }

  /** Ends every thread; compiles still waiting or running are refused. */
  async close(): Promise<void> {
    this.closed = true;
    const closing = new NestorError('NESTOR_SERVER_CLOSING', 'The server stopped before the pipeline was compiled', 'Submit again once it is back.');
    for (const task of this.waiting.splice(0)) task.reject(closing);
    for (const task of this.busy.values()) {
      clearTimeout(task.timer);
      task.reject(closing);
    }
    const workers = [...this.idle.splice(0), ...this.busy.keys()];
    this.busy.clear();
    await Promise.all(workers.map((w) => w.terminate()));
  }

  private next(): void {
    while (this.waiting.length) {
      const worker = this.idle.pop() ?? (this.idle.length + this.busy.size < this.size ? this.spawn() : undefined);
      if (!worker) return;
      const task = this.waiting.shift()!;
      this.busy.set(worker, task);
      worker.ref(); // a compile under way keeps the process alive; an idle thread does not
      if (this.ready.has(worker)) this.startClock(worker, task);
      worker.postMessage(task.request);
    }
  }

  private spawn(): Worker {
    // Node runs the .ts file itself (type stripping), as it runs the rest of Nestor.
    const worker = new Worker(new URL('./compile-worker.ts', import.meta.url), { resourceLimits: { maxOldGenerationSizeMb: this.limits.compileMemoryMb } });
    worker.unref();
    worker.on('message', (answer: WorkerMessage) => {
      const task = this.busy.get(worker);
      if ('ready' in answer) {
        this.ready.add(worker);
        if (task) this.startClock(worker, task);
        return;
      }
      if (!task) return;
      clearTimeout(task.timer);
      this.busy.delete(worker);
      worker.unref();
      this.idle.push(worker);
      if (answer.ok) task.resolve(answer.jobs);
      else task.reject(revive(answer.error));
      this.next();
    });
    worker.on('error', (err: Error & { code?: string }) => {
      const task = this.busy.get(worker);
      const outOfMemory = err.code === 'ERR_WORKER_OUT_OF_MEMORY';
      this.fail(worker, task && outOfMemory ? new PipelineLimitError('compileMemoryMb', this.limits.compileMemoryMb, start(task), 'compiling ran out of memory') : err);
    });
    worker.on('exit', () => this.fail(worker, new Error('a compile thread stopped')));
    return worker;
  }

  /** The compile's time starts once its thread has loaded the pipeline code. */
  private startClock(worker: Worker, task: Task): void {
    const ms = this.limits.compileMs;
    task.timer = setTimeout(() => this.fail(worker, new PipelineLimitError('compileMs', ms, start(task), `compiling took longer than ${ms} ms`)), ms);
  }

  /** Refuses the thread's compile with `err` and ends the thread; the next compile starts another. */
  private fail(worker: Worker, err: Error): void {
    const task = this.busy.get(worker);
    this.busy.delete(worker);
    const idle = this.idle.indexOf(worker);
    if (idle >= 0) this.idle.splice(idle, 1);
    if (task) {
      clearTimeout(task.timer);
      task.reject(err);
    }
    void worker.terminate();
    if (!this.closed) this.next();
  }
}

function start(task: Task) {
  const r = task.request;
  return { file: 'pipeline' in r ? r.pipeline.file : (r.checkout.file ?? r.checkout.dir), line: 1, column: 1 };
}

/** The worker's error as the class it was thrown as, so the API answers it the same way. */
function revive(e: SerializedError): Error {
  if (e.problems && e.limit) return PipelineLimitError.revive({ problems: e.problems, limit: e.limit });
  if (e.problems && e.error === 'NESTOR_PIPELINE_UNSUPPORTED') return new UnsupportedFeatureError(e.problems);
  // A code that is not Nestor's (a thread that failed in its own way) is the compiler's failure.
  if (e.error === 'NESTOR_INTERNAL' || !isErrorCode(e.error)) return new Error(`compiling failed: ${e.message}`);
  if (e.problems) return new PipelineError(e.problems, e.hint, e.error);
  return new NestorError(e.error, e.message, e.hint);
}
