import type { PipelineNotice, PipelineProblem, SourcePosition } from './errors.ts';
import type { PathSegment } from './yaml-source.ts';
import type { GithubJobPlan, GithubStepPlan } from './github/job-plan.ts';

/**
 * A group of runs of which a server runs one at a time (GitHub's `concurrency`): a newer run
 * waits for the one in progress, and replaces any run still waiting; with `cancelInProgress`
 * it cancels the one in progress instead.
 */
export interface ConcurrencyGroup {
  group: string;
  cancelInProgress: boolean;
}

/**
 * The normalized pipeline every file format maps into (Nestor's own, Drone, Woodpecker,
 * GitLab) before it is compiled to a plan. `at` is where the item is written in its file.
 */

export interface Condition {
  branch?: Filter;
  /**
   * The branch a pull request targets (GitHub's `pull_request: branches`): the server's
   * `target` fact, else the repository's default branch, as `github.base_ref` reads it.
   */
  targetBranch?: Filter;
  event?: Filter;
  /** Which outcome so far lets the step run: success (the default), failure, or both. */
  status?: ('success' | 'failure')[];
  paths?: Filter;
  /** The Git ref (`refs/heads/main`, `refs/tags/v1.2`, `refs/pull/7/head`), as Drone and Woodpecker match it. */
  ref?: Filter;
  /**
   * Conditions on facts of the run that only a server knows (Drone's and Woodpecker's `repo`,
   * `instance`, `target`, `cron`, `action`): a fact not given matches no pattern, so a step
   * meant for one server, one deploy target or one cron job does not run everywhere else.
   */
  facts?: Record<string, Filter>;
  /** Woodpecker's `evaluate`: an expression over the run's variables (evaluate-expression.ts). */
  evaluate?: string;
  /** Woodpecker's `matrix`: the step runs only in the matrix jobs with these values. */
  matrix?: Record<string, string>;
  /**
   * Woodpecker's reading of `paths` over the whole change set: excluded only when every
   * changed file is, included when any is; an empty change set passes when `onEmpty`; a commit
   * message holding `ignoreMessage` passes whatever changed.
   */
  pathRule?: { onEmpty: boolean; ignoreMessage?: string };
}

/** Glob patterns a value must match (`include`) and must not match (`exclude`). */
export interface Filter {
  include: string[];
  exclude: string[];
  /** GitHub's filter patterns (`+`, `?` as quantifiers: github/filter-pattern.ts) rather than globs. */
  syntax?: 'github';
}

export interface VolumeRef {
  /** A named volume of the job, or a path (absolute: a host path; relative: in the workspace). */
  source: string;
  target: string;
  readOnly: boolean;
  at: PathSegment[];
}

/**
 * A folder of Nestor's own (a fetched action, by commit) that a job volume starts with, at
 * `into` inside it: copied into the job's engine at set-up, never mounted from the host.
 */
export interface VolumeFolder {
  volume: string;
  dir: string;
  into: string;
}

export interface StepConfig {
  name: string;
  image?: string;
  /** Shell commands; none runs the image's own command. */
  commands: string[];
  /** Folders its job's volumes must hold before it runs (a remote action's files). */
  volumeFolders?: VolumeFolder[];
  /** Run after `commands` whatever their outcome (GitLab's after_script). */
  afterCommands: string[];
  entrypoint?: string[];
  /** Arguments to the image's entrypoint when there are no commands. */
  command?: string[];
  environment: Record<string, string>;
  /** Secrets given to the step: the secret `name`, exposed as the variable `env`. */
  secrets: { name: string; env: string }[];
  privileged: boolean;
  volumes: VolumeRef[];
  /** Nestor's `deploy:` key: the deploy target whose engine the step talks to. */
  deploy?: string;
  networkMode?: string;
  workingDir?: string;
  /** Who the step runs as in its container (Drone's and Woodpecker's `user`). */
  user?: string;
  /** Undefined: after the previous step. Empty: at the start. */
  dependsOn?: string[];
  /** Where each `dependsOn` entry is written, when it is (GitLab's stage order is not). */
  dependsOnAt?: PathSegment[][];
  when: Condition[];
  timeoutSeconds?: number;
  ignoreFailure: boolean;
  detach: boolean;
  /** Decided by the format itself (GitLab rules, manual jobs): why the step does not run. */
  notRunBecause?: string;
  /** Exit codes of `commands` that count as success with a warning (GitLab's allow_failure: exit_codes). */
  allowExitCodes?: number[];
  /** What the file says about the job that later parts of Nestor act on (artifacts, needs, caches): data only. */
  recorded?: JobRecord;
  /** With `jobPerStep`: the pipeline's services (by name) this step's job starts; absent: all of them. */
  services?: string[];
  /** Runs inside this step's container (a detached one: a GitHub job's container) instead of one of its own. */
  execIn?: string;
  /** Its image is built by an earlier step of the job, in the job's engine (a Docker action's Dockerfile): not pulled. */
  imageBuiltInJob?: boolean;
  /** A GitHub Actions step, finished at run time (github/job-plan.ts). */
  github?: GithubStepPlan;
  at: PathSegment[];
}

/**
 * Registry credentials a job's images (its steps' and its services') are pulled with: a Docker
 * config.json held by a secret of the run (Drone's `image_pull_secrets`), or by GitLab's
 * DOCKER_AUTH_CONFIG, a secret of the run or a variable of the job. The plan names it, never
 * its value: the scheduler resolves it like the secrets steps use (src/scheduler/pull-auth.ts).
 */
export interface ImagePull {
  /** The secret whose value is the config.json (or the variable, with `variable`). */
  name: string;
  /** A variable of the job by that name counts too, when the run gives no such secret; the job keeps it as a variable, as on GitLab. */
  variable?: boolean;
  /** Implied rather than written (GitLab reads DOCKER_AUTH_CONFIG whenever it is there): a run without it is no mistake. */
  optional?: boolean;
  /** Where the file names it, to point at it when it is not given. */
  at?: SourcePosition;
}

/**
 * A GitLab job's keys that are read and kept as written, for the parts of Nestor that act on
 * them (an artifact store, caches, runner labels, deployments); compile passes them on as data.
 * `imagePull` is written by Drone's reader too: a record is how a format hands a fact to later
 * parts without a key of its own in the plan.
 */
export interface JobRecord {
  /** The credentials the job's images are pulled with. */
  imagePull?: ImagePull[];
  stage?: string;
  /** The job's `needs`, resolved to job names (parallel jobs to each of their instances). */
  needs?: { job: string; artifacts: boolean; optional: boolean }[];
  dependencies?: string[];
  artifacts?: unknown;
  cache?: unknown;
  environment?: unknown;
  resourceGroup?: string;
  interruptible?: boolean;
  coverage?: string;
  tags?: string[];
  retry?: { max: number; when?: string[]; exitCodes?: number[] };
  /** `parallel`: which instance this is (`parallel: N`), or its matrix values. */
  parallel?: { index: number; total: number; matrix?: Record<string, string> };
  /** `trigger`: a downstream pipeline, a child one read from local files. */
  trigger?: { project?: string; include?: string[]; strategy?: string };
  /** `when: delayed`: how long after its turn it starts (its commands begin with the wait). */
  startInSeconds?: number;
  /** The rule, `only`/`except` or `when` that decided whether it runs. */
  decidedBy?: string;
  /** `when: manual`: it runs when someone starts it (a server's play, `nestor run --step`). */
  manual?: boolean;
}

export interface ServiceConfig {
  name: string;
  image: string;
  aliases: string[];
  environment: Record<string, string>;
  commands: string[];
  entrypoint?: string[];
  command?: string[];
  ports: number[];
  /** A shell command run inside the service until it succeeds: its readiness (GitHub's `--health-cmd`). */
  readyCommand?: string;
  privileged: boolean;
  volumes: VolumeRef[];
  at: PathSegment[];
}

export interface JobVolume {
  name: string;
  /** `temp`: empty, lives as long as the job. `host`: a host path (trusted jobs only). */
  kind: 'temp' | 'host';
  hostPath?: string;
  at: PathSegment[];
}

export interface PipelineConfig {
  name: string;
  /** Which format the file was written in, for messages. */
  format: 'nestor' | 'drone' | 'woodpecker' | 'gitlab' | 'github';
  file: string;
  defaultImage?: string;
  environment: Record<string, string>;
  steps: StepConfig[];
  services: ServiceConfig[];
  volumes: JobVolume[];
  /**
   * Each step is a job of its own (GitLab's jobs): its own engine, services (`StepConfig.services`)
   * and workspace, waiting for the jobs its `dependsOn` names, with artifacts between them.
   * Otherwise the steps share one job (a Drone pipeline, a Woodpecker workflow, Nestor's file).
   */
  jobPerStep?: boolean;
  /** One entry per job; `[{}]` when there is no matrix. */
  matrix: Record<string, string>[];
  /** Where the source is in every container. */
  workspace: string;
  /** Conditions for the whole pipeline (Drone's trigger, Woodpecker's top-level when). */
  when: Condition[];
  /** Other pipelines of the run this one waits for, by name, and where each is written. */
  dependsOn?: { name: string; at: PathSegment[] }[];
  /** Woodpecker's `runs_on`: the outcomes of those pipelines after which this one runs. */
  runsOn?: ('success' | 'failure')[];
  at: PathSegment[];
  /**
   * The runner labels the pipeline asks for (Drone's `node`, Woodpecker's `labels`), as
   * `key=value`: on a server, only a runner with every one of them takes its jobs.
   */
  runnerLabels?: string[];
  /** A title for the pipeline's runs (GitLab's workflow: name). */
  title?: string;
  /** A GitHub Actions job: what its steps' expressions read at run time. */
  github?: GithubJobPlan;
  /** The group of runs the run of this job is in (a workflow's `concurrency`), for a server. */
  concurrency?: ConcurrencyGroup;
  /** How parts of the file were understood, each at the key that caused it; shown before the job runs. */
  notices?: PipelineNotice[];
  /** The workspace starts empty (Drone's `clone: disable`, Woodpecker's `skip_clone`). */
  emptyWorkspace?: boolean;
  /**
   * What reading the file found wrong. The config then holds only the parts that could be
   * read, and compile reports these with its own problems, so that one run shows them all.
   */
  problems?: PipelineProblem[];
  /** Parts the file uses that Nestor does not run. */
  unsupported?: PipelineProblem[];
  /**
   * Steps and services written but not read (their problems are in `problems`), with their
   * names when those could be read: naming one elsewhere is not reported as unknown.
   */
  unread?: { name?: string; at: PathSegment[]; service?: boolean }[];
}
