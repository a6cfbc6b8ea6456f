import type Docker from 'dockerode';
import { randomBytes } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { NestorError } from '../../errors.ts';
import type { ContainerExit, RunningContainer, ShellOptions, ShellSession, StartOptions, StepSpec } from '../backend.ts';
import { streamLines } from './container-output.ts';
import { containerOptions } from './container-spec.ts';
import type { JobContext } from './job-context.ts';
import { StartedInJob, type ContainerJob } from './running-container.ts';
import { execExitCode, execShell, KILL_TREE, type ShellPlace } from './shell-session.ts';

/** A step whose container is no longer there to run it in. */
export class ExecTargetGoneError extends NestorError {
  constructor(step: string, target: string, why: string) {
    super(
      'NESTOR_JOB_CONTAINER_GONE',
      `Step ${step} runs inside ${target}, which is not running: ${why}`,
      `Read ${target}'s lines above: its image must keep running (Nestor starts it with \`tail -f /dev/null\`); a step that stops or kills it ends every later step of the job.`,
    );
  }
}

/**
 * Runs a step inside the running container of another step of its job (`execIn`), as
 * `docker exec` does: a GitHub job's steps share one container, so what one step installs or
 * writes outside the workspace the next one has. The step's variables, directory and user are
 * its own; its image and mounts are the container's.
 *
 * An exec has no kill of its own in Docker's API. The step's shell therefore writes its process
 * id to a file first and then becomes the step's command (`exec`, same pid); a cancel or a
 * timeout runs a second exec that kills that process and everything under it.
 */
export async function execStep(ctx: JobContext, job: ContainerJob, container: Docker.Container, step: StepSpec, opts: StartOptions): Promise<RunningContainer> {
  const target = step.execIn!;
  const own = containerOptions(ctx, step, 'step', []);
  const pidFile = `/tmp/.nestor-step-${randomBytes(6).toString('hex')}.pid`;
  const inner = step.script !== undefined ? ['/bin/sh', '-c', step.script] : [...(step.entrypoint ?? []), ...(step.command ?? [])];
  if (inner.length === 0) throw new ExecTargetGoneError(step.name, target, 'the step names no command to run in it');
  let exec: Docker.Exec;
  try {
    exec = await container.exec({
      Cmd: ['/bin/sh', '-c', 'echo $$ > "$0" && exec "$@"', pidFile, ...inner],
      Env: own.Env,
      WorkingDir: step.workingDir,
      ...(step.user !== undefined ? { User: step.user } : {}),
      AttachStdout: true,
      AttachStderr: true,
    });
  } catch (err) {
    throw new ExecTargetGoneError(step.name, target, refusalOf(err));
  }
  const stream = (await exec.start({ hijack: true, stdin: false })) as unknown as Duplex;
  const ended = streamLines(stream, () => opts.sink);
  const place = { docker: ctx.docker, env: own.Env ?? [], ...(step.workingDir ? { workingDir: step.workingDir } : {}), ...(step.user !== undefined ? { user: step.user } : {}) };
  return new ExecedStep(step.name, container, exec, pidFile, ended, job, opts.signal, place);
}

function refusalOf(err: unknown): string {
  const e = err as { json?: { message?: string }; message?: string };
  return e.json?.message ?? e.message ?? String(err);
}


class ExecedStep extends StartedInJob {
  private readonly container: Docker.Container;
  private readonly exec: Docker.Exec;
  private readonly pidFile: string;
  private readonly ended: Promise<void>;

  private readonly place: ShellPlace;

  constructor(name: string, container: Docker.Container, exec: Docker.Exec, pidFile: string, ended: Promise<void>, job: ContainerJob, signal: AbortSignal, place: ShellPlace) {
    super(name, job, signal);
    this.container = container;
    this.exec = exec;
    this.pidFile = pidFile;
    this.ended = ended;
    this.place = place;
  }

  /** In the container the step ran in, which outlives the step: what it left there is there. */
  shell(opts: ShellOptions): Promise<ShellSession> {
    return execShell(this.container, this.place, opts);
  }

  protected stop(): void {
    void this.container
      .exec({ Cmd: ['/bin/sh', '-c', KILL_TREE, this.pidFile], User: '0', AttachStdout: true, AttachStderr: true })
      .then((e) => e.start({ hijack: true, stdin: false }))
      .then((s) => (s as unknown as Duplex).resume())
      .catch(() => undefined);
  }

  /** Nothing of its own to remove: the process has ended, and the container is the job's. */
  remove(): Promise<void> {
    return Promise.resolve();
  }

  protected async waitForExit(): Promise<ContainerExit> {
    if ((await Promise.race([this.ended.then(() => 'ended' as const), this.tornDown()])) === null) return { exitCode: null, oomKilled: false, stopped: true };
    try {
      return { exitCode: await execExitCode(this.exec), oomKilled: false, stopped: this.stopped };
    } catch {
      return { exitCode: null, oomKilled: false, stopped: this.stopped };
    }
  }
}
