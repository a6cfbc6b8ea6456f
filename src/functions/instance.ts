import type Docker from 'dockerode';
import { randomBytes } from 'node:crypto';
import { Writable, type Duplex } from 'node:stream';
import { demuxWithBackpressure } from '../engine/demux.ts';
import { NestorError } from '../errors.ts';
import { LABEL_FUNCTION, nestorLabels } from '../engine/labels.ts';

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
  /** Who the function runs as: the image's own user unless that is root (see `unprivilegedUser`). */
  user: string;
}

/** `nobody`: owns nothing on the host, and the same number on every Linux distribution. */
export const UNPRIVILEGED_USER = '65534:65534';

/**
 * Who a function runs as. A function is code from a repository and holds no capability and no
 * setuid gain wherever it runs. In an engine whose containers live in a user namespace (the
 * application's own rootless engine, or a target run with userns-remap) root is the
 * namespace's, not the host's, so the image's own user stays, root included. On an engine
 * without one (a deploy target's plain engine) root in a container is the host's root, so an
 * image that runs as root (or names no user) runs as `nobody` there; one that names its own
 * user keeps it.
 */
export function instanceUser(imageUser: string | undefined, userNamespaced: boolean): string {
  const user = (imageUser ?? '').trim();
  if (userNamespaced) return user;
  const name = user.split(':')[0];
  return user === '' || name === 'root' || name === '0' ? UNPRIVILEGED_USER : user;
}

/** Whether an engine's containers run in a user namespace of their own (from `docker info`). */
export function userNamespaced(securityOptions: readonly string[] | undefined): boolean {
  return (securityOptions ?? []).some((o) => /(^|,)name=(rootless|userns)(,|$)/.test(o));
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
 * The loop an instance runs (with the image's /bin/sh). Per request the gateway sends the
 * request's variables as `NAME=value` lines, `NESTOR_LEN=bytes`, an empty line, then exactly
 * that many bytes of body, which reach the function on its stdin. Each value is set with
 * `export "$kv"`, never evaluated, and unset after the request. When the function exits, a
 * token only this instance knows is written after its stdout and, with the exit status, on
 * stderr: the gateway answers at once and the instance waits for the next request, with no
 * container to start. Whatever body the function did not read is drained, so the next header
 * starts where it should. "ready" on stderr says the loop runs (and that head and cat exist).
 */
const WRAPPER = String.raw`t=$NESTOR_DONE; unset NESTOR_DONE
command -v head >/dev/null 2>&1 && command -v cat >/dev/null 2>&1 || { printf '%s:unfit
' "$t" >&2; exit 127; }
printf '%s:ready
' "$t" >&2
while :; do
  n=0; names=
  while IFS= read -r kv || exit 0; do
    [ -z "$kv" ] && break
    case "$kv" in
      NESTOR_LEN=*) n=${'$'}{kv#NESTOR_LEN=} ;;
      *) export "$kv"; names="$names ${'$'}{kv%%=*}" ;;
    esac
  done
  head -c "$n" | ( "$@"; s=$?; cat >/dev/null; exit $s ); s=$?
  unset $names
  printf '%s' "$t"; printf '%s:%s
' "$t" "$s" >&2
done`;

/**
 * An image the request loop cannot run in (no /bin/sh, no head or cat). FunctionService catches
 * it and runs such a function one container per request instead, so it reaches no caller.
 */
export class InstanceUnfitError extends NestorError {
  constructor(why: string) {
    super('NESTOR_FUNCTION_IMAGE_UNFIT', `The function's image cannot keep a warm instance: ${why}`, 'Nothing to do: each request starts a container of its own. Base the image on one with /bin/sh, head and cat for warm starts.');
  }
}

function hostConfig(spec: InstanceSpec): Docker.HostConfig {
  return {
    NetworkMode: spec.network,
    Memory: spec.memoryMb * 1024 * 1024,
    MemorySwap: spec.memoryMb * 1024 * 1024,
    NanoCpus: Math.round(spec.cpus * 1e9),
    PidsLimit: 256,
    CapDrop: ['ALL'],
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
    User: spec.user,
    Labels: nestorLabels('function', { [LABEL_FUNCTION]: spec.id }),
    HostConfig: hostConfig(spec),
  };
}

/** What a container printed for one request: stdout up to a limit, and the end of stderr. */
class RequestOutput {
  stdout: Buffer[] = [];
  stdoutBytes = 0;
  stderr = '';
  overflow = false;
  maxStdout = Number.MAX_SAFE_INTEGER;

  out(payload: Buffer): void {
    if (this.stdoutBytes + payload.length > this.maxStdout) this.overflow = true;
    else {
      this.stdout.push(Buffer.from(payload));
      this.stdoutBytes += payload.length;
    }
  }

  err(payload: Buffer): void {
    this.stderr += payload.toString('utf8');
    if (this.stderr.length > STDERR_TAIL_BYTES * 2) this.stderr = this.stderr.slice(-STDERR_TAIL_BYTES);
  }
}

function sink(write: (chunk: Buffer) => void): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      write(chunk);
      done();
    },
  });
}

/**
 * One container serving one function. Started ahead of requests it serves them one after
 * another (its own process per request); started for images without a shell (`startDirect`)
 * it serves exactly one, with the request in its environment.
 */
export class FunctionInstance {
  readonly container: Docker.Container;
  private readonly stream: Duplex;
  private readonly token: string | undefined;
  private ended = false;
  private readonly endWaiters: (() => void)[] = [];
  /** Where the attach stream's output goes now: the current request's, or what came before one. */
  private output = new RequestOutput();
  /** Looks at `output` after each chunk (completion, handshake). */
  private onChunk: (() => void) | undefined;
  /** When it last finished a request, for scaling idle instances down. */
  lastUsed = Date.now();

  private constructor(container: Docker.Container, stream: Duplex, token: string | undefined) {
    this.container = container;
    this.stream = stream;
    this.token = token;
    demuxWithBackpressure(stream, sink((b) => this.output.out(b)), sink((b) => this.output.err(b)));
    // Registered after the demultiplexer's listener, so `output` already holds the chunk.
    stream.on('data', () => this.onChunk?.());
    const end = () => {
      if (this.ended) return;
      this.ended = true;
      for (const w of this.endWaiters.splice(0)) w();
    };
    stream.on('end', end);
    stream.on('close', end);
    stream.on('error', end);
  }

  /** Whether the instance can take a request (it may have been killed meanwhile). */
  get alive(): boolean {
    return !this.ended;
  }

  /**
   * A started instance whose loop is ready for requests. Throws InstanceUnfitError when the
   * image has no /bin/sh (or no head and cat) to run the loop; such functions are served by
   * `startDirect`, a container per request.
   */
  static async start(docker: Docker, spec: InstanceSpec, readyTimeoutMs = 10_000): Promise<FunctionInstance> {
    const token = randomBytes(16).toString('hex');
    const container = await docker.createContainer({
      ...baseOptions(spec),
      Entrypoint: ['/bin/sh', '-c', WRAPPER, 'nestor-fn'],
      Cmd: spec.command,
      Env: [...Object.entries(spec.env).map(([k, v]) => `${k}=${v}`), `NESTOR_DONE=${token}`],
    });
    let instance: FunctionInstance | undefined;
    try {
      const stream = (await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true })) as unknown as Duplex;
      instance = new FunctionInstance(container, stream, token);
      try {
        await container.start();
      } catch (err) {
        if (/no such file or directory|executable file not found/i.test(String((err as Error).message))) throw new InstanceUnfitError('the image has no /bin/sh');
        throw err;
      }
      await instance.handshake(readyTimeoutMs);
      return instance;
    } catch (err) {
      if (instance) void instance.remove();
      else void container.remove({ force: true }).catch(() => undefined);
      throw err;
    }
  }

  /** Waits for the loop's "ready" (or "unfit") line on stderr. */
  private handshake(timeoutMs: number): Promise<void> {
    const token = this.token!;
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => finish(new Error(`the function's instance did not start within ${timeoutMs} ms`)), timeoutMs);
      const finish = (err?: Error) => {
        clearTimeout(timer);
        this.onChunk = undefined;
        if (err) reject(err);
        else resolve();
      };
      this.onChunk = () => {
        const stderr = this.output.stderr;
        if (stderr.includes(`${token}:ready\n`)) {
          this.output = new RequestOutput();
          finish();
        } else if (stderr.includes(`${token}:unfit\n`)) finish(new InstanceUnfitError('the image lacks head or cat'));
      };
      this.onChunk();
      this.endWaiters.push(() => finish(/not found|no such file/i.test(this.output.stderr) ? new InstanceUnfitError('the image has no /bin/sh') : new Error(`the function's instance stopped at start: ${this.output.stderr.slice(-500)}`)));
    });
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

  /** Whether the instance can serve another request after this one. */
  get reusable(): boolean {
    return this.token !== undefined && this.alive;
  }

  /**
   * Sends one request and collects the answer. A timed-out, oversized or single-use instance
   * is removed; a looping one stays for the next request.
   */
  async invoke(requestEnv: string[], body: Buffer, limits: { timeoutMs: number; maxOutputBytes: number }): Promise<InvocationOutput> {
    const reader = this.output;
    reader.maxStdout = limits.maxOutputBytes;
    let settle!: (how: 'done' | 'ended' | 'timeout' | 'overflow') => void;
    const finished = new Promise<'done' | 'ended' | 'timeout' | 'overflow'>((r) => (settle = r));
    const token = this.token;
    const doneLine = token ? new RegExp(`${token}:(\\d+)\\n$`) : undefined;
    this.onChunk = () => {
      if (reader.overflow) settle('overflow');
      else if (token && doneLine!.test(reader.stderr) && endsWith(reader.stdout, token)) settle('done');
    };
    this.onChunk();
    const onEnd = () => settle('ended');
    if (this.ended) settle('ended');
    else this.endWaiters.push(onEnd);
    const timer = setTimeout(() => settle('timeout'), limits.timeoutMs);
    if (token) {
      this.stream.write(Buffer.concat([Buffer.from(`${requestEnv.join('\n')}\nNESTOR_LEN=${body.length}\n\n`), body]));
    } else {
      this.stream.write(body);
      this.stream.end();
    }
    const how = await finished;
    clearTimeout(timer);
    this.onChunk = undefined;
    this.output = new RequestOutput();
    const waiter = this.endWaiters.indexOf(onEnd);
    if (waiter >= 0) this.endWaiters.splice(waiter, 1);

    let exitCode: number;
    let stderr = reader.stderr;
    let stdout = Buffer.concat(reader.stdout);
    if (how === 'done') {
      const m = doneLine!.exec(stderr)!;
      exitCode = Number(m[1]);
      stderr = stderr.slice(0, m.index);
      stdout = stdout.subarray(0, stdout.length - token!.length);
      this.lastUsed = Date.now();
    } else if (how === 'ended') {
      // Killed (out of memory, from outside) or a direct instance that finished: ask Docker.
      let timer2: NodeJS.Timeout | undefined;
      const waited = await Promise.race([
        this.container.wait().then((w: { StatusCode: number }) => w.StatusCode, () => undefined),
        new Promise<undefined>((r) => {
          timer2 = setTimeout(() => r(undefined), 5000);
        }),
      ]).finally(() => clearTimeout(timer2));
      exitCode = waited ?? 137;
      const state = await this.container.inspect().then((i) => i.State, () => undefined);
      if (state?.OOMKilled) stderr += '\n[nestor] the function ran out of memory\n';
    } else exitCode = 137;
    if (how !== 'done' || !token) void this.remove();
    return { exitCode, stdout, stderr: stderr.slice(-STDERR_TAIL_BYTES), timedOut: how === 'timeout', tooLarge: how === 'overflow' };
  }

  async remove(): Promise<void> {
    this.ended = true;
    this.stream.destroy();
    await this.container.remove({ force: true }).catch(() => undefined);
  }
}

function endsWith(chunks: Buffer[], token: string): boolean {
  let tail = '';
  for (let i = chunks.length - 1; i >= 0 && tail.length < token.length; i--) tail = chunks[i]!.toString('latin1') + tail;
  return tail.endsWith(token);
}
