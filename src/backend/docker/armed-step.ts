import type Docker from 'dockerode';
import type { Duplex } from 'node:stream';
import type { OutputSink } from '../backend.ts';
import { streamLines } from './container-output.ts';
import { gateEntrypoint, newGateToken, releaseText, type GateRelease } from './step-gate.ts';

/**
 * A step container started ahead of its step, its shell waiting at the gate (step-gate.ts).
 * `release` runs the step; `dispose` lets the gate exit without running anything.
 */
export class ArmedStep {
  readonly container: Docker.Container;
  private readonly stream: Duplex;
  private readonly token: string;
  private sink: OutputSink | undefined;
  private released = false;
  /** Resolves with the step's status once both output streams have reached the gate's marker. */
  readonly finished: Promise<number>;
  /** Resolves once the container's output has ended (it has stopped). */
  readonly ended: Promise<void>;

  private constructor(container: Docker.Container, stream: Duplex, token: string) {
    this.container = container;
    this.stream = stream;
    this.token = token;
    const statuses: number[] = [];
    let resolveFinished!: (status: number) => void;
    this.finished = new Promise((resolve) => (resolveFinished = resolve));
    const marker = {
      prefix: `${token}:`,
      onEnd: (status: number) => {
        statuses.push(status);
        if (statuses.length === 2) resolveFinished(statuses[0]!);
      },
    };
    this.ended = streamLines(stream, () => this.sink, marker);
  }

  /**
   * Creates and starts a container whose shell waits for its step. `options` is the step's own
   * container definition; its entrypoint and command are replaced by the gate.
   */
  static async arm(docker: Docker, options: Docker.ContainerCreateOptions): Promise<ArmedStep> {
    const token = newGateToken();
    const { Cmd: _cmd, ...rest } = options;
    const container = await docker.createContainer({
      ...rest,
      Entrypoint: gateEntrypoint(token),
      OpenStdin: true,
      StdinOnce: true,
      AttachStdin: true,
    });
    const stream = (await container.attach({ stream: true, stdin: true, stdout: true, stderr: true, hijack: true })) as unknown as Duplex;
    const armed = new ArmedStep(container, stream, token);
    try {
      await container.start();
    } catch (err) {
      stream.destroy();
      throw err;
    }
    return armed;
  }

  /** Runs the step: its code goes through the gate, then stdin is closed as `docker run` leaves it. */
  release(sink: OutputSink, run: Omit<GateRelease, 'token'>): void {
    if (this.released) throw new Error('a gated step can run only once');
    this.released = true;
    this.sink = sink;
    this.stream.end(releaseText({ ...run, token: this.token }));
  }

  /** The step will not run: closing stdin makes the gate exit 0 having run nothing. */
  dispose(): void {
    if (this.released) return;
    this.released = true;
    this.stream.end();
  }
}
