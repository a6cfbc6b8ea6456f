import type Docker from 'dockerode';
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { ownerId } from '../engine/cleanup.ts';
import { LABEL_FUNCTION, LABEL_OWNER, nestorLabels } from '../engine/labels.ts';

/** How one function's containers are made. */
export interface InstanceSpec {
  /** NAMESPACE/PATH, for labels and names. */
  id: string;
  image: string;
  /** The image's own entrypoint and command, run for each request. */
  command: string[];
  env: Record<string, string>;
  memoryMb: number;
  cpus: number;
  network: 'none' | 'bridge';
}

export interface InvocationOutput {
  exitCode: number;
  stdout: Buffer;
  /** The end of stderr (the invocation log keeps a tail, not everything). */
  stderr: string;
  timedOut: boolean;
  tooLarge: boolean;
}

export const STDERR_TAIL_BYTES = 64 * 1024;

/**
 * Started ahead of a request, the instance waits in `read`: the request's variables come as
 * `NAME=value` lines, an empty line, then the body, which the function reads on stdin. Each
 * value is set with `export "$kv"`, never evaluated. When the function exits, a token only
 * this instance knows is written after its stdout and with the exit status on stderr, so the
 * gateway can answer at once instead of waiting for the container to be torn down.
 */
const WRAPPER = String.raw`while IFS= read -r kv; do [ -z "$kv" ] && break; export "$kv"; done
t=$NESTOR_DONE; unset NESTOR_DONE
"$@"; s=$?
printf '%s' "$t"; printf '%s:%s\n' "$t" "$s" >&2
exit "$s"`;

function hostConfig(spec: InstanceSpec): Docker.HostConfig {
  return {
    NetworkMode: spec.network,
    Memory: spec.memoryMb * 1024 * 1024,
    MemorySwap: spec.memoryMb * 1024 * 1024,
    NanoCpus: Math.round(spec.cpus * 1e9),
    PidsLimit: 256,
    CapDrop: ['NET_RAW', 'MKNOD', 'AUDIT_WRITE', 'SYS_CHROOT', 'SETFCAP'],
    SecurityOpt: ['no-new-privileges'],
    LogConfig: { Type: 'none', Config: {} },
  };
}

function baseOptions(spec: InstanceSpec): Docker.ContainerCreateOptions {
  return {
    Image: spec.image,
    OpenStdin: true,
    StdinOnce: true,
    AttachStdin: true,
    AttachStdout: true,
    AttachStderr: true,
    Tty: false,
    Labels: nestorLabels('function', { [LABEL_FUNCTION]: spec.id, [LABEL_OWNER]: ownerId() }),
    HostConfig: hostConfig(spec),
  };
}

/** Reads Docker's multiplexed attach stream (8-byte headers) into stdout and a stderr tail. */
class FrameReader {
  stdout: Buffer[] = [];
  stdoutBytes = 0;
  stderr = '';
  private pending: Buffer = Buffer.alloc(0);
  private readonly maxStdout: number;
  overflow = false;

  constructor(maxStdout: number) {
    this.maxStdout = maxStdout;
  }

  push(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    while (this.pending.length >= 8) {
      const size = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + size) break;
      const payload = this.pending.subarray(8, 8 + size);
      if (this.pending[0] === 2) {
        this.stderr += payload.toString('utf8');
        if (this.stderr.length > STDERR_TAIL_BYTES * 2) this.stderr = this.stderr.slice(-STDERR_TAIL_BYTES);
      } else if (this.stdoutBytes + payload.length > this.maxStdout) {
        this.overflow = true;
      } else {
        this.stdout.push(Buffer.from(payload));
        this.stdoutBytes += payload.length;
      }
      this.pending = this.pending.subarray(8 + size);
    }
  }
}

/** One container that serves exactly one request and is then removed. */
export class FunctionInstance {
  readonly container: Docker.Container;
  private readonly stream: Duplex;
  private readonly token: string | undefined;
  private ended = false;
  private readonly endWaiters: (() => void)[] = [];
  private onData: ((chunk: Buffer) => void) | undefined;
  private early: Buffer[] = [];

  private constructor(container: Docker.Container, stream: Duplex, token: string | undefined) {
    this.container = container;
    this.stream = stream;
    this.token = token;
    stream.on('data', (c: Buffer) => (this.onData ? this.onData(c) : this.early.push(c)));
    const end = () => {
      if (this.ended) return;
      this.ended = true;
      for (const w of this.endWaiters.splice(0)) w();
    };
    stream.on('end', end);
    stream.on('close', end);
    stream.on('error', end);
  }

  /** Whether the instance is still waiting for its request (it may have been killed meanwhile). */
  get alive(): boolean {
    return !this.ended;
  }

  /**
   * A started instance waiting for its request. Throws when the image has no /bin/sh to run
   * the waiting loop; such functions are started per request with `runDirect`.
   */
  static async start(docker: Docker, spec: InstanceSpec): Promise<FunctionInstance> {
    const token = randomBytes(16).toString('hex');
    const container = await docker.createContainer({
      ...baseOptions(spec),
      Entrypoint: ['/bin/sh', '-c', WRAPPER, 'nestor-fn'],
      Cmd: spec.command,
      Env: [...Object.entries(spec.env).map(([k, v]) => `${k}=${v}`), `NESTOR_DONE=${token}`],
    });
    try {
      const stream = (await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true })) as unknown as Duplex;
      const instance = new FunctionInstance(container, stream, token);
      await container.start();
      return instance;
    } catch (err) {
      void container.remove({ force: true }).catch(() => undefined);
      throw err;
    }
  }

  /** For images without a shell: a container per request with the request in its environment. */
  static async startDirect(docker: Docker, spec: InstanceSpec, requestEnv: string[]): Promise<FunctionInstance> {
    const container = await docker.createContainer({
      ...baseOptions(spec),
      ...(spec.command.length ? { Entrypoint: spec.command.slice(0, 1), Cmd: spec.command.slice(1) } : {}),
      Env: [...Object.entries(spec.env).map(([k, v]) => `${k}=${v}`), ...requestEnv],
    });
    try {
      const stream = (await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true })) as unknown as Duplex;
      const instance = new FunctionInstance(container, stream, undefined);
      await container.start();
      return instance;
    } catch (err) {
      void container.remove({ force: true }).catch(() => undefined);
      throw err;
    }
  }

  /** Sends the request and collects the answer; the container is removed afterwards whatever happens. */
  async invoke(requestEnv: string[], body: Buffer, limits: { timeoutMs: number; maxOutputBytes: number }): Promise<InvocationOutput> {
    const reader = new FrameReader(limits.maxOutputBytes);
    let settle!: (how: 'done' | 'ended' | 'timeout' | 'overflow') => void;
    const finished = new Promise<'done' | 'ended' | 'timeout' | 'overflow'>((r) => (settle = r));
    const token = this.token;
    const doneLine = token ? new RegExp(`${token}:(\\d+)\\n$`) : undefined;
    this.onData = (chunk) => {
      reader.push(chunk);
      if (reader.overflow) settle('overflow');
      else if (token && doneLine!.test(reader.stderr) && endsWith(reader.stdout, token)) settle('done');
    };
    for (const c of this.early.splice(0)) this.onData(c);
    if (this.ended) settle('ended');
    else this.endWaiters.push(() => settle('ended'));
    const timer = setTimeout(() => settle('timeout'), limits.timeoutMs);
    const head = token ? Buffer.from(`${requestEnv.join('\n')}\n\n`) : Buffer.alloc(0);
    this.stream.write(Buffer.concat([head, body]));
    this.stream.end();
    const how = await finished;
    clearTimeout(timer);

    let exitCode: number;
    let stderr = reader.stderr;
    let stdout = Buffer.concat(reader.stdout);
    if (how === 'done') {
      const m = doneLine!.exec(stderr)!;
      exitCode = Number(m[1]);
      stderr = stderr.slice(0, m.index);
      stdout = stdout.subarray(0, stdout.length - token!.length);
    } else if (how === 'ended') {
      // Killed (out of memory, from outside) or a direct instance that finished: ask Docker.
      let timer: NodeJS.Timeout | undefined;
      const waited = await Promise.race([
        this.container.wait().then((w: { StatusCode: number }) => w.StatusCode, () => undefined),
        new Promise<undefined>((r) => {
          timer = setTimeout(() => r(undefined), 5000);
        }),
      ]).finally(() => clearTimeout(timer));
      exitCode = waited ?? 137;
      const state = await this.container.inspect().then((i) => i.State, () => undefined);
      if (state?.OOMKilled) stderr += '\n[nestor] the function ran out of memory\n';
    } else exitCode = 137;
    void this.remove();
    return { exitCode, stdout, stderr: stderr.slice(-STDERR_TAIL_BYTES), timedOut: how === 'timeout', tooLarge: how === 'overflow' };
  }

  async remove(): Promise<void> {
    this.stream.destroy();
    await this.container.remove({ force: true }).catch(() => undefined);
  }
}

function endsWith(chunks: Buffer[], token: string): boolean {
  let tail = '';
  for (let i = chunks.length - 1; i >= 0 && tail.length < token.length; i--) tail = chunks[i]!.toString('latin1') + tail;
  return tail.endsWith(token);
}
