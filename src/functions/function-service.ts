import type Docker from 'dockerode';
import { NestorError, type ErrorCode } from '../errors.ts';
import { problemOf } from '../http-status.ts';
import { responseFromStdout, type FunctionResponse } from './envelope.ts';
import { FunctionInstance, InstanceUnfitError, type InstanceSpec } from './instance.ts';
import { requestEnvironment, type FunctionRequest } from './request-env.ts';
import { BackgroundWork } from '../background-work.ts';

export interface ServiceSpec extends InstanceSpec {
  timeoutMs: number;
  concurrency: number;
  warm: number;
  idleTimeoutMs?: number;
  maxOutputBytes: number;
}

export class FunctionBusyError extends NestorError {
  constructor(id: string, limit: number) {
    super('NESTOR_FUNCTION_BUSY', `${id} is already handling ${limit} requests, its concurrency limit`, 'Retry after a moment, or raise `concurrency` for this function in nestor.yaml.');
  }
}

export interface InvocationResult {
  response: FunctionResponse;
  start: 'cold' | 'warm';
  durationMs: number;
  exitCode: number;
  stderr: string;
}

/** A function's failure as the API answers errors: problem+json, with the status src/http-status.ts gives its code. */
function problem(code: ErrorCode, detail: string, hint: string): FunctionResponse {
  const { status, body } = problemOf(new NestorError(code, detail, hint))!;
  return { status, headers: { 'content-type': 'application/problem+json' }, body: Buffer.from(JSON.stringify(body)) };
}

/** Idle instances beyond `warm` are removed after this long without a request, by default. */
export const IDLE_SCALE_DOWN_MS = 30_000;

/**
 * One deployed function on one engine: idle instances waiting for requests (at least `warm`
 * of them), more started when requests come faster than they finish (up to `concurrency`,
 * beyond which callers get 429), idle extras removed after a while, and the mapping of an
 * instance's outcome to an HTTP answer.
 */
export class FunctionService {
  readonly spec: ServiceSpec;
  private readonly docker: Docker;
  private readonly ready: FunctionInstance[] = [];
  /** Instances being started, so close() can wait for them and remove them too. */
  private readonly starting = new BackgroundWork();
  private inFlight = 0;
  private direct = false;
  private closed = false;
  private readonly sweeper: NodeJS.Timeout;

  constructor(docker: Docker, spec: ServiceSpec) {
    this.docker = docker;
    this.spec = spec;
    this.sweeper = setInterval(() => this.scaleDown(), Math.max(1000, Math.min(this.idleTimeout, 10_000))).unref();
  }

  private get idleTimeout(): number {
    return this.spec.idleTimeoutMs ?? IDLE_SCALE_DOWN_MS;
  }

  get busy(): number {
    return this.inFlight;
  }

  get warmCount(): number {
    return this.ready.length;
  }

  /** Starts instances until `warm` are waiting; failures only mean the next call starts cold. */
  fill(): void {
    if (this.closed || this.direct) return;
    while (this.ready.length + this.starting.size < this.spec.warm) {
      void this.starting.add(
        FunctionInstance.start(this.docker, this.spec)
          .then(async (instance) => {
            if (this.closed) await instance.remove();
            else this.ready.push(instance);
          })
          .catch((err: unknown) => {
            if (err instanceof InstanceUnfitError) this.direct = true;
          }),
      );
    }
  }

  /**
   * Resolves once one instance waits (when any should), so the first request after a deploy
   * is answered warm; the rest of `warm` start behind it rather than competing with it.
   */
  async warmUp(): Promise<void> {
    if (this.spec.warm > 0 && !this.direct) {
      try {
        this.ready.push(await FunctionInstance.start(this.docker, this.spec));
      } catch (err) {
        if (err instanceof InstanceUnfitError) this.direct = true;
      }
    }
    this.fill();
  }

  async invoke(req: FunctionRequest): Promise<InvocationResult> {
    if (this.inFlight >= this.spec.concurrency) throw new FunctionBusyError(this.spec.id, this.spec.concurrency);
    this.inFlight++;
    const started = performance.now();
    try {
      const env = requestEnvironment(req);
      let instance = this.takeReady();
      const start: 'cold' | 'warm' = instance ? 'warm' : 'cold';
      if (!instance) instance = await this.startCold(env);
      this.fill();
      const out = await instance.invoke(env, req.body, { timeoutMs: this.spec.timeoutMs, maxOutputBytes: this.spec.maxOutputBytes });
      if (instance.reusable && !this.closed && !(this.idleTimeout === 0 && this.ready.length >= this.spec.warm)) this.ready.push(instance);
      else if (instance.reusable) void instance.remove();
      const tail = out.stderr.slice(-2000);
      let response: FunctionResponse;
      if (out.timedOut) response = problem('NESTOR_FUNCTION_TIMEOUT', `${this.spec.id} did not answer within ${this.spec.timeoutMs} ms; its container was killed`, 'Raise `timeout` for this function in nestor.yaml if it needs longer, or make it answer sooner.');
      else if (out.tooLarge) response = problem('NESTOR_FUNCTION_RESPONSE_TOO_LARGE', `${this.spec.id} wrote more than ${this.spec.maxOutputBytes} bytes to stdout`, 'Answer with less, or hand large results over through storage and return a reference.');
      else if (out.exitCode !== 0) response = problem('NESTOR_FUNCTION_FAILED', `${this.spec.id} exited with status ${out.exitCode}. Its stderr ends with:\n${tail}`, 'Fix the function; GET /api/functions/NAMESPACE/PATH/invocations keeps the stderr of recent calls.');
      else response = responseFromStdout(out.stdout);
      return { response, start, durationMs: performance.now() - started, exitCode: out.exitCode, stderr: out.stderr };
    } finally {
      this.inFlight--;
    }
  }

  private takeReady(): FunctionInstance | undefined {
    while (this.ready.length) {
      // The most recently used first: the others stay idle long enough to be scaled down.
      const instance = this.ready.pop()!;
      if (instance.alive) return instance;
      void instance.remove();
    }
    return undefined;
  }

  private async startCold(env: string[]): Promise<FunctionInstance> {
    if (!this.direct) {
      try {
        return await FunctionInstance.start(this.docker, this.spec);
      } catch (err) {
        if (!(err instanceof InstanceUnfitError)) throw err;
        this.direct = true;
      }
    }
    return FunctionInstance.startDirect(this.docker, this.spec, env);
  }

  /** Removes idle instances beyond `warm` that have waited longer than the idle timeout. */
  private scaleDown(): void {
    const now = Date.now();
    while (this.ready.length > this.spec.warm) {
      const oldest = this.ready.reduce((a, b) => (a.lastUsed <= b.lastUsed ? a : b));
      if (now - oldest.lastUsed < this.idleTimeout) return;
      this.ready.splice(this.ready.indexOf(oldest), 1);
      void oldest.remove();
    }
  }

  /** Removes the waiting instances; requests in flight finish, then their instances go too. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.sweeper);
    await Promise.all([...this.ready.splice(0).map((i) => i.remove()), this.starting.settled()]);
  }
}
