/**
 * The backend seam: what the runner asks of whatever runs a job's containers.
 *
 * A backend sets a job up (its own Docker engine, its network, workspace, volumes and
 * images), starts the job's services and steps when told to, hands their output back line by
 * line, says how each one ended, and tears the job down. Above it, the scheduler walks the
 * steps' graph, decides what runs and when (`dependsOn`, `when`, failure policy, timeouts,
 * cancellation), masks secrets and reports results; it never learns how a container is made.
 * Each backend is one folder under src/backend/. The first is src/backend/docker/: a nested
 * engine per job, and `socket` mode, which is that same backend with the host's own engine.
 * docs/kubernetes.md checks this interface against a second backend.
 *
 * Two rules shape the types below:
 * - The plan states intent; the backend supplies transport. A step "talks to its job's Docker
 *   engine" (`EngineUse`); whether that becomes DOCKER_HOST=tcp://docker:2376 with client
 *   certificates, the host's socket, or localhost in a pod is the backend's decision. The plan
 *   therefore carries no DOCKER_* variables, no certificate paths and no socket paths of its own.
 * - The backend is not told the graph. It is given every container that may run when the job
 *   is set up (a pod's containers are fixed when it is made), and learns that one should run
 *   when asked to start it, or to get it ready ahead. Order and policy stay above the seam.
 *
 * Why the shapes differ from Woodpecker's backend interface, which this one learnt from: a
 * set-up answers a handle holding the job's state (no task id and config passed again on
 * every call); services are ready when their start resolves; output keeps stdout and stderr
 * apart and pushes back on a flooding step; timeouts and cancellation are AbortSignals.
 */

import type { EngineUse, MountIntent, PlanContainer } from '../pipeline/plan.ts';
import type { RegistryCredential } from '../secrets/docker-config.ts';

/** A container's output stream. */
export type StreamName = 'stdout' | 'stderr';

// ---------------------------------------------------------------------------------------------
// Intent: what the plan says about each container. The types are the plan's
// (src/pipeline/plan.ts), which compile.ts writes in place of transport: `EngineUse` rather
// than DOCKER_* variables and certificate mounts, the `engine-socket-dir` and `engine-socket`
// mounts, and the job's `engineAliases`. They live with the plan, not here, because the
// pipeline is the leaf every other module reads (the CLI, the server, each backend) and imports
// nothing of theirs; a backend folder will hold Docker and Kubernetes code, which the pipeline
// must not depend on even by folder. Each backend turns them into variables, mounts and
// certificates (Nestor's Docker backend: src/backend/docker/engine-transport.ts).
// ---------------------------------------------------------------------------------------------

export type { EngineUse, MountIntent };

/**
 * What every step and service of a job is made from: the plan's container, as compiled (one
 * definition, src/pipeline/plan.ts). A backend reads `engine` and the mount intents and turns
 * them into its own transport; `privileged` means every capability it can give without
 * reaching outside the job (inside the job's user namespace in a rootless engine or a pod with
 * `hostUsers: false`); a `networkMode` it cannot give refuses the job at set-up.
 */
export type ContainerSpec = PlanContainer;

export interface StepSpec extends ContainerSpec {
  /** Runs until the job ends, reachable by its name; the scheduler does not wait for it. */
  detach: boolean;
}

export interface ServiceSpec extends ContainerSpec {
  /** Further names the service is reached by. */
  aliases: string[];
  /**
   * TCP ports whose accepting a connection means ready. Empty: the TCP ports its image
   * declares (EXPOSE); with none of those either, ready once it runs.
   */
  ports: number[];
  /**
   * A shell command the backend runs inside the service, again and again until it exits 0,
   * instead of waiting on ports: the service's own health check (`--health-cmd`).
   */
  readyCommand?: string;
}

/**
 * One job as a backend sees it: the plan's containers with their intents, without the graph.
 * The scheduler's plan adds `dependsOn`, `runOn`, `timeoutMs`, `ignoreFailure` and
 * `notRunBecause` to each step; none of them changes how a container is made.
 */
export interface JobSpec {
  /** Unique in the pipeline (pipeline name plus matrix values): for labels and messages. */
  name: string;
  /** Where the workspace is in every container. */
  workspace: string;
  /**
   * Every step that may be started, in the file's order. Steps known not to run before the run
   * begins are left out: a backend may pull every image it is given, or make a container for
   * each step when the job is set up (a pod's containers are fixed when it is made).
   */
  steps: StepSpec[];
  /** Started before the first step, in this order. */
  services: ServiceSpec[];
  /** The job's volumes, by the names mounts use. */
  volumes: string[];
  /**
   * Folders of the runner's own (fetched actions, never a path the job names) that those
   * volumes start with: `dir`'s files under `into`, copied into the job's engine.
   */
  volumeFolders?: { volume: string; dir: string; into: string }[];
  /** Every image the job names, to be present before the first step. */
  images: string[];
  /**
   * The name and aliases of each `docker:dind` service in the file. Such a service is the
   * job's own Docker daemon under those names: nothing is started for it, and every container
   * resolves them to the job's engine, as it does the names the backend's own transport uses
   * (`docker`, GitLab's alias for the daemon, in Nestor's Docker backend). Steps reach the
   * engine by them with the certificates the file expects (`EngineUse.certDirs`).
   */
  engineAliases: string[];
  /**
   * The file's dind service answers without TLS: the job's engine must answer plain HTTP, to
   * the job's own containers and to nothing outside, on the port the steps' own DOCKER_HOST
   * names (`tcp://docker:2375`), or Docker's usual 2375.
   */
  plainEngine?: boolean;
}

// ---------------------------------------------------------------------------------------------
// The backend itself.
// ---------------------------------------------------------------------------------------------

/** Whether a backend can run jobs here; when not, why, and what to do about it. */
export type Availability = { ok: true; detail: string } | { ok: false; reason: string; hint: string };

/**
 * One Docker config.json the job's pulls use (the plan's `imagePull`), resolved by the
 * scheduler from the run's secrets or the job's variables. A backend pulls each image with the
 * entry for its registry, and never puts any of it in a container, a log line or an error.
 */
export interface RegistryAuth {
  /** The secret's (or variable's) name, for what to give when it was not. */
  name: string;
  /** How messages name where it came from: `secret dockerconfig`, `variable DOCKER_AUTH_CONFIG`. */
  from: string;
  /** Whether the run gave it; one not given has no credentials, and a refused pull says it was missing. */
  given: boolean;
  credentials: RegistryCredential[];
}

export interface SetupOptions {
  /** The job's secrets by name: the values `ContainerSpec.secrets` refers to. */
  secrets: Record<string, string>;
  /** The registry credentials every image of `JobSpec.images` is pulled with, by registry; absent: none. */
  registryAuth?: RegistryAuth[];
  /**
   * The job's workspace content as one tar stream (the source, and any artifacts handed down
   * from the jobs it needs), unpacked at the workspace's root before any container starts.
   * Part of the set-up, not a call after it, because a pod starts its services' containers as
   * soon as it runs: the files must be there first. Called at most once, when the backend is
   * ready for it; absent: the workspace starts empty.
   */
  workspace?: () => AsyncIterable<Uint8Array>;
  /**
   * Cancels the set-up: what was made so far goes at once. A set-up can wait long (a pod for
   * which no node has room yet, a pull of a big image), and a cancel must not wait with it.
   */
  signal: AbortSignal;
  /**
   * Says what was decided or is being waited for on the job's behalf, for the job's log: a
   * fall-back to another isolation, an image standing in for one that cannot be pulled, what
   * `privileged` means in this engine, a pod waiting for a node and why.
   */
  notice: (text: string) => void;
  /**
   * Called once, as soon as the job's engine answers and before images are pulled or the
   * workspace filled: a job whose set-up fails later is still reported with its engine's name.
   */
  engineReady?: (engine: JobHandle['engine']) => void;
  /**
   * The job engine's size; absent: the backend's defaults (2 GiB and 2 CPUs for a nested
   * engine today). A pod backend must know it before the pod exists, to have it scheduled.
   */
  resources?: { memoryMb?: number; cpus?: number };
  /** Put on everything made for the job, to find it again (the server's job id and attempt). */
  labels?: Record<string, string>;
}

/**
 * A job that is set up: its engine runs, its workspace holds its content, its images are
 * present, and any step or service may start. Backends extend it with their own state; the
 * scheduler reads only these fields.
 */
export interface JobHandle {
  /** Made by the backend: unique among live jobs and a DNS label (object names, labels). */
  readonly id: string;
  /** The job's engine, for results and logs. */
  readonly engine: {
    name: string;
    /** `rootless`, `sysbox`, `dind`, `socket`…: what the job was actually given, after any fall-back. */
    isolation: string;
    /** From the set-up's start until the engine answered. */
    readyMs: number;
  };
}

/**
 * Where a container's output goes. A callback rather than an async iterable: a step printing
 * a million short lines would otherwise cost a million awaited promises on the path the
 * runner's flood benchmark (bench:log-flood) measures; this way a promise is made only while
 * the consumer is full.
 */
export interface OutputSink {
  /**
   * One line without its newline, not yet masked; a line over 64 KiB arrives cut, followed by
   * a line saying how much was not kept (LineWriter, src/backend/line-writer.ts, which every
   * backend uses for this). Lines arrive in order within each stream.
   */
  line(stream: StreamName, text: string): void;
  /**
   * A promise while the consumer wants no more. The backend then reads no more of the
   * container's output until it settles, so a flooding step waits at its own stdout instead of
   * the runner's memory growing. Asked after each chunk read, not after each line. A service's
   * sink answers undefined: a service must never stall on its log (what the log cannot take is
   * counted and dropped above).
   */
  full(): Promise<void> | undefined;
}

export interface StartOptions {
  /** Receives the container's output from its first byte: nothing is lost before the attach. */
  sink: OutputSink;
  /**
   * Kills the container when it aborts. The scheduler combines the job's cancel with the
   * step's timeout (a timer of `timeoutMs` from the start, aborting with a `TimeoutError`) and
   * tells the two apart itself; the backend only stops the container.
   */
  signal: AbortSignal;
}

export interface ServiceStartOptions extends StartOptions {
  /** How long the service has to become ready (`ServiceSpec.ports`) before its start fails. */
  readyWithinMs: number;
}

/** How a container ended. */
export interface ContainerExit {
  /** Its exit status; null when it was never known (the engine went away first, as on a cancel). */
  exitCode: number | null;
  /** Killed for memory by the kernel, where the backend can tell. */
  oomKilled: boolean;
  /** Killed because its start's `signal` aborted. */
  stopped: boolean;
}

/** A started step or service. */
export interface RunningContainer {
  readonly name: string;
  /**
   * Settles once the container has ended and every line of its output has gone to the sink;
   * promptly after the signal aborts or the job is torn down, even if the engine no longer
   * answers. Never rejects: an engine that fails mid-wait is an exit with a null code. A
   * service's settles only if it stops before the job ends.
   */
  wait(): Promise<ContainerExit>;
  /**
   * Stops it if it still runs and frees what it holds. Idempotent. It may do nothing where the
   * job's teardown takes everything anyway (a throw-away engine), or where a container cannot
   * be removed on its own (a pod's).
   */
  remove(): Promise<void>;
  /**
   * Optional: an interactive process in the container, as `docker exec -it` gives
   * (`nestor jobs shell`). After the container has ended (a failed step held for a shell) the
   * backend keeps what the step left, its files and mounts, and runs the process in that.
   * Rejects with a NestorError when it cannot (the engine is gone, the image has no shell).
   */
  shell?(opts: ShellOptions): Promise<ShellSession>;
}

/** What `RunningContainer.shell` runs. */
export interface ShellOptions {
  /** The program and its arguments; empty: bash where the image has it, else sh. */
  command: string[];
  /** A terminal (the user's is one): output is one stream, and `resize` applies. */
  tty: boolean;
  cols?: number;
  rows?: number;
}

/** A process started by `RunningContainer.shell`. */
export interface ShellSession {
  /** Goes to its standard input. */
  write(data: Uint8Array): void;
  /** Closes its standard input (a piped script has ended). */
  endInput(): void;
  /** Receives its output from the first byte; on a terminal all of it comes as stdout. */
  onOutput(receive: (stream: StreamName, data: Uint8Array) => void): void;
  resize(cols: number, rows: number): Promise<void>;
  /** Settles with its exit code once it has ended and its output has been given; null when unknown. Never rejects. */
  readonly exited: Promise<number | null>;
  /** Kills it and everything it started, if it still runs. Idempotent. */
  close(): void;
}

/** A step made ready ahead of being due (see `Backend.prepareStep`). */
export interface PreparedStep {
  /** Runs it now; its output goes to the sink from here on. Once only. */
  start(opts: StartOptions): Promise<RunningContainer>;
  /** It will not run: what was made for it goes (a gated shell exits having run nothing). */
  discard(): void;
}

/**
 * Runs jobs' containers. Calls for one job come in this order: `setupJob`, `startService` for
 * each service, then `startStep` (or `prepareStep` and later `start`) as the graph allows, each
 * step's `wait` and `remove`, `explainFailure` when the job failed, and `teardownJob`. Steps of
 * one job may start concurrently, and many jobs may be set up at once. `teardownJob` may come
 * at any moment (a cancel), after which every pending call of that job settles promptly.
 *
 * `J` is the backend's own handle type, so that its methods need no casts; the scheduler holds
 * a `Backend` and treats handles as `JobHandle`.
 */
export interface Backend<J extends JobHandle = JobHandle> {
  /** `docker` (nested engines and socket mode), `kubernetes`, `memory` (tests). */
  readonly name: string;

  /**
   * Whether jobs can run here: the engine or cluster answers, and what the default isolation
   * needs is there. Quick, and free of side effects: `nestor doctor` and a runner's start ask it.
   */
  available(): Promise<Availability>;

  /**
   * Makes the job's world and resolves once any step could start: its engine (a warm one when
   * the backend keeps some), network, workspace with `opts.workspace` unpacked in it, volumes,
   * and every image of `spec.images` present. Rejects with a NestorError naming the cause and
   * the fix (engine refused, image not found, no node can take the job); what it made by then
   * is removed first.
   */
  setupJob(spec: JobSpec, opts: SetupOptions): Promise<J>;

  /**
   * Starts a service and resolves once it is ready: every port of `ServiceSpec.ports` accepts a
   * connection from inside the job, tried often, never after a fixed sleep. Rejects when it
   * exits first or is not ready within `readyWithinMs`, saying why (ServiceNotReadyError,
   * src/backend/errors.ts).
   */
  startService(job: J, service: ServiceSpec, opts: ServiceStartOptions): Promise<RunningContainer>;

  /**
   * Starts a step. Rejects only when it could not be started (its image cannot be had, the
   * engine refused the container): a step that runs and fails is an exit code from `wait`.
   */
  startStep(job: J, step: StepSpec, opts: StartOptions): Promise<RunningContainer>;

  /**
   * Optional: readies a step while the steps it depends on still run, so that it starts the
   * moment they end (a container already started, its shell waiting at the gate: ~1 ms to
   * start instead of ~180 ms). The scheduler decides when (once every step it depends on has
   * started), the backend how many it holds ready at once, since it alone knows what each
   * costs (a warm engine's slot nothing, a started container a shell and its shim). Answers
   * undefined when readying this step ahead gains nothing now (a detached step, one with its
   * own entrypoint, every step on the host's own engine) or the backend holds enough: the
   * scheduler asks again later, or starts it with `startStep` when due. A backend without it
   * has every step started by `startStep`. Never throws: a failure to ready the step is
   * reported when it is started.
   */
  prepareStep?(job: J, step: StepSpec): PreparedStep | undefined;

  /**
   * A tar stream of `paths` (relative to the workspace), read after the steps that made them
   * ended: artifacts for the jobs that need this one. Rejects when a path is not there.
   */
  readWorkspace(job: J, paths: string[]): Promise<AsyncIterable<Uint8Array>>;

  /**
   * Optional: notices that may explain a failed job, read from the backend's own logs (a nested
   * dockerd's pulls that went past the image cache, a pod's events).
   */
  explainFailure?(job: J): Promise<string[]>;

  /**
   * Removes everything the job had: its containers, volumes, network and engine. Idempotent,
   * safe after a failed or partial set-up, and what a cancel calls at once. The scheduler may
   * report the job's result first and leave this running in the background. `cancelled`: it
   * comes at a cancel, while the job's calls are pending; what goes with the engine need not
   * be removed one by one. A second call answers the first one's promise.
   */
  teardownJob(job: J, opts?: { cancelled?: boolean }): Promise<void>;

  /**
   * Removes what an earlier run of this process left when it died (engines, pods, volumes
   * whose owner is gone), answering what it removed. A runner calls it as it starts.
   */
  reclaim(): Promise<{ removed: string[] }>;

  /** Stops warm engines and anything else the backend keeps between jobs. */
  close(): Promise<void>;
}
