import type Docker from 'dockerode';
import { NestorError, errorMessage } from '../errors.ts';
import { responseFromStdout, type FunctionResponse } from './envelope.ts';
import { FunctionInstance, type InstanceSpec } from './instance.ts';
import { requestEnvironment, type FunctionRequest } from './request-env.ts';

export interface ServiceSpec extends InstanceSpec {
  timeoutMs: number;
  concurrency: number;
  warm: number;
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

/** An answer in the API's problem+json form, with a stable code and what to do next. */
function problem(status: number, code: string, title: string, detail: string, hint: string): FunctionResponse {
  const body = { type: `https://nestor.dev/problems/${code.toLowerCase().replace(/_/g, '-')}`, title, status, code, detail, hint };
  return { status, headers: { 'content-type': 'application/problem+json' }, body: Buffer.from(JSON.stringify(body)) };
}

/** An image without /bin/sh cannot run the waiting loop; its requests start containers directly. */
function lacksShell(err: unknown): boolean {
  return /no such file or directory|executable file not found|not found in \$PATH/i.test(errorMessage(err));
}

/**
 * One deployed function on one engine: instances started ahead of requests (warm), a limit
 * on requests at once, and the mapping of a container's outcome to an HTTP answer.
 */
export class FunctionService {
  readonly spec: ServiceSpec;
  private readonly docker: Docker;
  private readonly ready: FunctionInstance[] = [];
  private starting = 0;
  private inFlight = 0;
  private direct = false;
  private closed = false;

  constructor(docker: Docker, spec: ServiceSpec) {
    this.docker = docker;
    this.spec = spec;
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
    while (this.ready.length + this.starting < this.spec.warm) {
      this.starting++;
      FunctionInstance.start(this.docker, this.spec)
        .then((instance) => {
          if (this.closed) void instance.remove();
          else this.ready.push(instance);
        })
        .catch((err: unknown) => {
          if (lacksShell(err)) this.direct = true;
        })
        .finally(() => this.starting--);
    }
  }

  /** Resolves once `warm` instances wait (for deploys that should answer warm at once). */
  async warmUp(timeoutMs = 15_000): Promise<void> {
    this.fill();
    const deadline = Date.now() + timeoutMs;
    while (!this.direct && this.ready.length < this.spec.warm && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
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
      const tail = out.stderr.slice(-2000);
      let response: FunctionResponse;
      if (out.timedOut) response = problem(504, 'NESTOR_FUNCTION_TIMEOUT', 'Gateway Timeout', `${this.spec.id} did not answer within ${this.spec.timeoutMs} ms; its container was killed`, 'Raise `timeout` for this function in nestor.yaml if it needs longer, or make it answer sooner.');
      else if (out.tooLarge) response = problem(502, 'NESTOR_FUNCTION_RESPONSE_TOO_LARGE', 'Bad Gateway', `${this.spec.id} wrote more than ${this.spec.maxOutputBytes} bytes to stdout`, 'Answer with less, or hand large results over through storage and return a reference.');
      else if (out.exitCode !== 0) response = problem(502, 'NESTOR_FUNCTION_FAILED', 'Bad Gateway', `${this.spec.id} exited with status ${out.exitCode}. Its stderr ends with:\n${tail}`, 'Fix the function; GET /api/functions/NAMESPACE/PATH/invocations keeps the stderr of recent calls.');
      else response = responseFromStdout(out.stdout);
      return { response, start, durationMs: performance.now() - started, exitCode: out.exitCode, stderr: out.stderr };
    } finally {
      this.inFlight--;
    }
  }

  private takeReady(): FunctionInstance | undefined {
    while (this.ready.length) {
      const instance = this.ready.shift()!;
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
        if (!lacksShell(err)) throw err;
        this.direct = true;
      }
    }
    return FunctionInstance.startDirect(this.docker, this.spec, env);
  }

  /** Removes the waiting instances; requests in flight finish on their own containers. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.ready.splice(0).map((i) => i.remove()));
  }
}
