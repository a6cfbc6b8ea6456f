import type Docker from 'dockerode';
import { randomBytes } from 'node:crypto';
import { Writable, type Duplex } from 'node:stream';
import { NestorError } from '../../errors.ts';
import { sleep } from '../../sleep.ts';
import { demuxWithBackpressure } from '../../engine/demux.ts';
import { LABEL_ROLE } from '../../engine/labels.ts';
import type { ShellOptions, ShellSession, StreamName } from '../backend.ts';

/** Kills a process and every descendant, found through /proc (minimal images have no pkill). */
export const KILL_TREE = 'k() { for c in $(cat /proc/$1/task/*/children 2>/dev/null); do k "$c"; done; kill -9 "$1" 2>/dev/null; }; p=$(cat "$0" 2>/dev/null) && k "$p"; rm -f "$0"';

/**
 * The shell writes its process id first, so that `close` can kill what it started: an exec has
 * no kill of its own in Docker's API. No command: bash where the image has it, else sh.
 */
const LAUNCH = 'echo $$ > "$0"; [ $# -gt 0 ] && exec "$@"; command -v bash >/dev/null 2>&1 && exec bash; exec sh';

/** Where a step ran: what its shell is given, as the step was. */
export interface ShellPlace {
  docker: Docker;
  env: string[];
  workingDir?: string;
  user?: string;
}

/** A shell that could not be started in a step's container. */
export class ShellRefusedError extends NestorError {
  constructor(container: string, why: string) {
    super(
      'NESTOR_SHELL_REFUSED',
      `No shell could be started in ${container}: ${why}`,
      'The step\'s image needs /bin/sh (a distroless image has none: give the step an image with a shell, or a debug variant); a job whose engine is gone has nothing to shell into.',
    );
  }
}

/** Runs `opts.command` in a running container, as `docker exec -it` (or `-i` without a terminal) does. */
export async function execShell(container: Docker.Container, place: ShellPlace, opts: ShellOptions): Promise<ShellSession> {
  const pidFile = `/tmp/.nestor-shell-${randomBytes(6).toString('hex')}.pid`;
  let exec: Docker.Exec;
  let stream: Duplex;
  try {
    exec = await container.exec({
      Cmd: ['/bin/sh', '-c', LAUNCH, pidFile, ...opts.command],
      Env: [...place.env, ...(opts.tty ? ['TERM=xterm-256color'] : [])],
      ...(place.workingDir ? { WorkingDir: place.workingDir } : {}),
      ...(place.user !== undefined ? { User: place.user } : {}),
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      Tty: opts.tty,
    });
    stream = (await exec.start({ hijack: true, stdin: true, Tty: opts.tty, ...(opts.tty && opts.cols && opts.rows ? { ConsoleSize: [opts.rows, opts.cols] } : {}) })) as unknown as Duplex;
  } catch (err) {
    throw new ShellRefusedError(container.id.slice(0, 12), refusalOf(err));
  }
  return new ExecShell(container, exec, stream, pidFile, opts.tty);
}

class ExecShell implements ShellSession {
  readonly exited: Promise<number | null>;
  private receive: ((stream: StreamName, data: Uint8Array) => void) | undefined;
  private readonly early: [StreamName, Uint8Array][] = [];
  private closed = false;
  private readonly container: Docker.Container;
  private readonly exec: Docker.Exec;
  private readonly stream: Duplex;
  private readonly pidFile: string;

  constructor(container: Docker.Container, exec: Docker.Exec, stream: Duplex, pidFile: string, tty: boolean) {
    this.container = container;
    this.exec = exec;
    this.stream = stream;
    this.pidFile = pidFile;
    const give = (name: StreamName, data: Uint8Array) => (this.receive ? this.receive(name, data) : this.early.push([name, data]));
    if (tty) stream.on('data', (chunk: Buffer) => give('stdout', chunk));
    else demuxWithBackpressure(stream, sinkOf((c) => give('stdout', c)), sinkOf((c) => give('stderr', c)));
    const ended = new Promise<void>((resolve) => {
      stream.once('end', resolve);
      stream.once('close', resolve);
      stream.once('error', () => resolve());
    });
    this.exited = ended.then(() => execExitCode(exec)).catch(() => null);
  }

  write(data: Uint8Array): void {
    if (!this.stream.writableEnded && !this.stream.destroyed) this.stream.write(data);
  }

  endInput(): void {
    if (!this.stream.writableEnded && !this.stream.destroyed) this.stream.end();
  }

  onOutput(receive: (stream: StreamName, data: Uint8Array) => void): void {
    this.receive = receive;
    for (const [name, data] of this.early.splice(0)) receive(name, data);
  }

  async resize(cols: number, rows: number): Promise<void> {
    await this.exec.resize({ w: cols, h: rows }).catch(() => undefined);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    void this.container
      .exec({ Cmd: ['/bin/sh', '-c', KILL_TREE, this.pidFile], User: '0', AttachStdout: true, AttachStderr: true })
      .then((e) => e.start({ hijack: true, stdin: false }))
      .then((s) => (s as unknown as Duplex).resume())
      .catch(() => undefined)
      .finally(() => this.stream.destroy());
  }
}

/** An exec's exit code. Its output ends a moment before the engine records the code: asked again briefly. */
export async function execExitCode(exec: Docker.Exec): Promise<number | null> {
  for (let i = 0; i < 50; i++) {
    const info = await exec.inspect();
    if (!info.Running) return info.ExitCode;
    await sleep(20);
  }
  return null;
}

function sinkOf(write: (chunk: Buffer) => void): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      write(chunk);
      done();
    },
  });
}

/**
 * What a step that has ended left, kept for a shell: its container committed to an image (its
 * files outside the workspace as the step left them) and started again from that image with the
 * same mounts, settings and labels, doing nothing until the shell comes. `remove` takes both.
 */
export async function holdEnded(docker: Docker, container: Docker.Container): Promise<{ container: Docker.Container; remove: () => Promise<void> }> {
  const info = await container.inspect();
  if (info.State.Running) return { container, remove: async () => undefined };
  const labels = { ...info.Config.Labels, [LABEL_ROLE]: 'step' };
  const committed = (await container.commit({ changes: Object.entries(labels).map(([k, v]) => `LABEL ${k}=${JSON.stringify(v)}`) })) as { Id: string };
  const { AutoRemove: _auto, ...hostConfig } = info.HostConfig as Docker.HostConfig & { AutoRemove?: boolean };
  let held: Docker.Container | undefined;
  const remove = async () => {
    if (held) await held.remove({ force: true }).catch(() => undefined);
    await docker.getImage(committed.Id).remove({ force: true }).catch(() => undefined);
  };
  try {
    held = await docker.createContainer({
      name: `${info.Name.replace(/^\//, '')}-held`,
      Image: committed.Id,
      Entrypoint: ['tail', '-f', '/dev/null'],
      Cmd: [],
      Env: info.Config.Env,
      WorkingDir: info.Config.WorkingDir,
      User: info.Config.User,
      Labels: labels,
      HostConfig: hostConfig,
    });
    await held.start();
    return { container: held, remove };
  } catch (err) {
    await remove();
    throw new ShellRefusedError(info.Name.replace(/^\//, ''), `its files could not be kept after it ended: ${refusalOf(err)}`);
  }
}

function refusalOf(err: unknown): string {
  const e = err as { json?: { message?: string }; message?: string };
  return e.json?.message ?? e.message ?? String(err);
}
