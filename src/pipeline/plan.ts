import type { PipelineNotice, SourcePosition } from './errors.ts';
import type { ConcurrencyGroup, JobRecord, VolumeFolder } from './model.ts';
import type { GithubJobPlan, GithubStepPlan } from './github/job-plan.ts';

/**
 * The engine-neutral plan a pipeline compiles to: what to run, in which order, with which
 * mounts. The runner executes it on a nested engine; nothing here knows about Docker's API.
 *
 * The plan states intent; the runner (the backend) supplies transport. A step "talks to its
 * job's Docker engine" (`EngineUse`), a volume "is the engine's socket directory"
 * (`engine-socket-dir`), a `docker:dind` service "is the job's engine under these names"
 * (`JobPlan.engineAliases`). Whether that becomes a TLS address with client certificates,
 * the host's socket, or localhost in a pod is decided where containers are made
 * (src/backend/docker/engine-transport.ts). So a plan carries no DOCKER_* variable, engine address,
 * port or certificate path that the pipeline file did not write itself.
 *
 * These types are the plan's vocabulary, and src/backend/backend.ts takes `EngineUse` and
 * `MountIntent` from here: the pipeline imports nothing outside itself but shared helpers, so
 * it stays the leaf that the CLI, the server and every backend read.
 */

/**
 * How a container uses its job's own Docker engine.
 *
 * Compile decides only what the container needs, each backend makes it so: a nested engine
 * gives its TLS address and the client certificates; socket mode the host's socket; a pod the
 * engine sidecar on localhost.
 */
export interface EngineUse {
  /**
   * The container's Docker client is pointed at the job's engine through its environment.
   * Steps have it unless they mount the engine's socket themselves (their client's default
   * then finds it); services do not have it. Variables the file sets itself (its own
   * address of their own, say) win over the backend's.
   */
  client: boolean;
  /**
   * Further directories where the file's own set-up expects the engine's client certificates,
   * read-only: `$DOCKER_TLS_CERTDIR/client` of each `docker:dind` service the job's engine
   * stands in for (GitLab's documented pattern), for each one whose file sets
   * DOCKER_TLS_CERTDIR. One that leaves it to the image's default needs no entry: a backend
   * puts the certificates in docker:dind's default directory for every step anyway. A backend
   * whose engine needs no certificates (socket mode) leaves them out.
   */
  certDirs: string[];
  /**
   * The file reaches the engine without TLS (a `docker:dind` service with DOCKER_TLS_CERTDIR
   * empty, or `--tls=false`): its client is pointed at the engine's plain port, with no TLS
   * variables. The job's `plainEngine` says so for the whole job.
   */
  plain?: boolean;
}

/** What is mounted into a container, by meaning rather than by engine path. */
export type MountIntent =
  /** The job's workspace, or a directory in it (`./dir:/target`); shared by every container. */
  | { kind: 'workspace'; target: string; subPath?: string; readOnly: boolean }
  /** A volume of the job, as named in the file: empty at the start, gone with the job. */
  | { kind: 'volume'; name: string; target: string; readOnly: boolean }
  /** A path of the machine the engine runs on: trusted jobs only (compile refuses it otherwise). */
  | { kind: 'host'; path: string; target: string; readOnly: boolean }
  /**
   * The directory holding the job engine's socket: what a `docker:dind` service's `/var/run`
   * volume is in Drone and Woodpecker files, where steps share that volume to reach the daemon.
   */
  | { kind: 'engine-socket-dir'; target: string }
  /** The job engine's socket itself (`/var/run/docker.sock:…` in the file). */
  | { kind: 'engine-socket'; target: string };

export interface PlanContainer {
  name: string;
  image: string;
  /** A shell script to run with /bin/sh; absent: the image's own entrypoint and command. */
  script?: string;
  /** The commands as the file wrote them (the script runs these), for `nestor plan` to show. */
  commands?: string[];
  entrypoint?: string[];
  command?: string[];
  environment: Record<string, string>;
  /** Secret values to inject by name, as `env`; their values are masked in every log. */
  secrets: { name: string; env: string }[];
  privileged: boolean;
  mounts: MountIntent[];
  engine: EngineUse;
  networkMode?: string;
  workingDir: string;
  /** Who the container runs as, as the file names it (Drone's and Woodpecker's `user`): a user of the job's engine, never of the host. */
  user?: string;
  /**
   * The script runs inside this detached step's container, which is running, rather than in a
   * container of its own (a GitHub job's steps share one container, as on GitHub: what one
   * installs the next has). Its image and mounts are that container's.
   */
  execIn?: string;
  /** Its image is built in the job's engine by an earlier step (a GitHub Docker action's Dockerfile), so nothing pulls it. */
  imageBuiltInJob?: boolean;
}

export interface PlanStep extends PlanContainer {
  /**
   * The deploy target (defined by the server's admin) whose Docker engine the step's client is
   * pointed at instead of the job's: Nestor's `deploy:` key, or NESTOR_DEPLOY_TARGET in any
   * format's environment. The runner gives the address; the target's credentials stay its own.
   */
  deployTarget?: string;
  dependsOn: string[];
  /** Which outcome of the job so far lets it run. */
  runOn: ('success' | 'failure')[];
  /**
   * Variables that say how the job has gone when the step starts (Drone's DRONE_BUILD_STATUS,
   * Woodpecker's CI_PIPELINE_STATUS), for a step that may run after a failure: the scheduler
   * adds one set or the other as it starts the step.
   */
  statusEnvironment?: { success: Record<string, string>; failure: Record<string, string> };
  timeoutMs: number;
  ignoreFailure: boolean;
  detach: boolean;
  /** Why the step will not run (its `when` did not match), when that is known before the run. */
  notRunBecause?: string;
  /** What the file says about the job for later parts of Nestor (artifacts, caches, needs): data only. */
  recorded?: JobRecord;
  /** A GitHub Actions step: its `if:`, script and inputs are evaluated as it starts. */
  github?: GithubStepPlan;
}

export interface PlanService extends PlanContainer {
  aliases: string[];
  /** TCP ports whose accepting a connection means ready; none: ready once running. */
  ports: number[];
  /**
   * A shell command (`/bin/sh -c`) run inside the service, again and again, until it exits 0:
   * then it is ready, whatever its ports do (a database that listens before it takes queries).
   */
  readyCommand?: string;
}

/** What a job keeps of its workspace for the jobs after it (GitLab's `artifacts`). */
export interface ArtifactRule {
  /** Relative to the workspace; globs as GitLab reads them; a directory keeps what is under it. */
  paths: string[];
  exclude: string[];
  /** After which outcome of the job they are kept. */
  when: 'on_success' | 'on_failure' | 'always';
  /** How long they are kept after the job, in milliseconds; null: as long as the store keeps the run. */
  expireInMs: number | null;
  /** GitLab's `untracked: true`: every file of the workspace that the source did not bring, besides `paths`. */
  untracked?: boolean;
}

export interface JobPlan {
  /** Unique in the pipeline: the pipeline name plus matrix values. */
  name: string;
  pipeline: string;
  matrix: Record<string, string>;
  workspace: string;
  steps: PlanStep[];
  services: PlanService[];
  /** Job-scoped volumes to make before anything runs. */
  volumes: string[];
  /** Folders of Nestor's own those volumes start with (fetched actions), copied in at set-up. */
  volumeFolders?: VolumeFolder[];
  /** Every image the job names, to have ready in its engine before the first step. */
  images: string[];
  /**
   * The names and aliases of the file's `docker:dind` services: each such service is the
   * job's own Docker daemon under those names (nothing is started for it), and every container
   * reaches the engine by them. The backend adds the names its own transport uses.
   */
  engineAliases: string[];
  /**
   * The file's dind service answers without TLS (GitLab's and Drone's `DOCKER_TLS_CERTDIR: ""`
   * pattern): the job's engine must answer plain HTTP too, only to the job's own containers,
   * on the port the file's own Docker address names (Docker's usual plain port when it names
   * none): the backend's to read and to give.
   */
  plainEngine?: boolean;
  /** Runner labels the job asks for (`key=value`): on a server, only a runner with every one takes it. */
  runnerLabels?: string[];
  /** The title of the pipeline's runs, when the file gives one (GitLab's workflow: name). */
  title?: string;
  /** Whether the source is copied into the workspace before the first step. */
  copySource: boolean;
  /** The deploy targets its steps name (`PlanStep.deployTarget`), which the server gives at lease if it allows. */
  deployTargets?: string[];
  /** The run's secrets are variables of each of its containers, as GitLab gives a project's CI/CD variables. */
  secretsAsVariables?: boolean;
  /**
   * The pipelines this job's pipeline waits for (Drone's pipeline `depends_on`, Woodpecker's
   * workflow `depends_on`): every job of each must have ended first. Absent: none.
   */
  needs?: string[];
  /** When it runs, given how those ended: on success (the default), on failure, or always. */
  runWhen?: 'on_success' | 'on_failure' | 'always';
  /** Where each of `needs` is written, to name an unknown one at its place. */
  needsAt?: SourcePosition[];
  /**
   * Jobs of the same pipeline run this job waits for, by job name (GitLab's stages and
   * `needs`); `optional`: fine when that job is not in the run. `runWhen` applies to them too.
   */
  after?: { job: string; optional?: boolean }[];
  /** What the job leaves for the jobs after it, once it has ended. */
  artifacts?: ArtifactRule;
  /** The jobs whose artifacts are unpacked into this job's workspace before it starts, in this order. */
  artifactsFrom?: string[];
  /** How the file was understood (e.g. a dind service served by the job engine), each where it is written. */
  notices: PipelineNotice[];
  /** A GitHub Actions job: its contexts, outputs and `if:`, for the runner. */
  github?: GithubJobPlan;
  /** The group the run this job belongs to is in (a workflow's `concurrency`), for a server. */
  concurrency?: ConcurrencyGroup;
}
