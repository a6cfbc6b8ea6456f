import type { Value } from './expression.ts';

/**
 * What a GitHub Actions job and each of its steps carry into the plan for the runner to
 * finish at run time. A workflow's steps are written with expressions (`${{ steps.x.outputs.y }}`,
 * `if: failure()`) that only the job's own progress can answer, so the plan keeps them as
 * written and the scheduler evaluates them as each step starts (github/step-runtime.ts), as
 * GitHub's runner does. Everything known before the run (images, the matrix, services) is
 * already resolved by the reader.
 */

/** What a `uses:` or `run:` step is, as Nestor runs it. */
export type GithubStepKind =
  /** A shell script (`run:`). */
  | 'run'
  /** `actions/checkout`: done from the run's own source, which is already in the workspace. */
  | 'checkout'
  /** `actions/upload-artifact` / `download-artifact`: served by the run's artifact store. */
  | 'upload-artifact'
  | 'download-artifact'
  /** `actions/cache`: read, a miss until a cache is served (the job still passes). */
  | 'cache'
  /** An action that cannot be had here: said by its notice, skipped at run time. */
  | 'unavailable';

export interface GithubStepPlan {
  kind: GithubStepKind;
  /** The step's `id` (steps.ID in expressions); GitHub names unnamed ones `__N`. */
  id: string;
  /** The `if:` as written, without `${{ }}`; absent: `success()`. */
  if?: string;
  /** The script of a `run:` step, with its expressions as written. */
  run?: string;
  /** The shell as GitHub names it: bash, sh, python, pwsh, or a command with {0}. */
  shell?: string;
  workingDirectory?: string;
  /** The step's own `env`, each value still an expression template. */
  env: Record<string, string>;
  /** The action's `with:` inputs, each a template. */
  with: Record<string, string>;
  /** The action named by `uses:`. */
  uses?: string;
  /** `continue-on-error`: true, false, or an expression. */
  continueOnError: boolean | string;
  /** Why an `unavailable` step is not run, for its log line. */
  unavailable?: string;
  /** A step of a composite action: the action and the step that uses it. */
  action?: ActionFrame;
  /** A JavaScript action's step: the job container needs the Node Nestor mounts for actions. */
  usesNode?: boolean;
  /** A Docker action's container: its args and env from action.yml, templates over `inputs`. */
  dockerAction?: { args: string[]; env: Record<string, string> };
}

/**
 * Where a step of a composite action stands: its steps are the job's steps (each in the job
 * container, named `CALLER > STEP`), but their expressions see the action's `inputs` and its
 * own `steps`, and the step that uses the action ends with the last of them, with the action's
 * outputs. `parent` is the frame of the calling step when that is itself inside an action.
 */
export interface ActionFrame {
  /** The id path of the step that uses the action (`build`, or `build/inner` when nested). */
  caller: string;
  /** What the calling step wrote in `uses:`. */
  uses: string;
  /** The action's folder, relative to the workspace (GITHUB_ACTION_PATH). */
  path: string;
  /** The calling step's `with:`, templates over the caller's contexts. */
  with: Record<string, string>;
  /** The action's inputs' defaults, templates over the caller's contexts. */
  defaults: Record<string, string>;
  /** The calling step's `if:` and `env`, which hold for every step of the action. */
  callerIf?: string;
  callerEnv: Record<string, string>;
  /** The action's `outputs`, templates over its own steps. */
  outputs: Record<string, string>;
  /** Whether this is the action's last step, with which the calling step ends (its inputs are read as its first starts). */
  last: boolean;
  parent?: ActionFrame;
}

export interface GithubJobPlan {
  /** The job's key under `jobs:` (needs.ID in expressions). */
  jobId: string;
  /** The workflow's name, for GITHUB_WORKFLOW. */
  workflow: string;
  /** The run's title (`run-name`), as far as the file's facts fill it. */
  runName?: string;
  /** The job's `if:`, without `${{ }}`; absent: `success()`. */
  if?: string;
  /** The workflow's `env` then the job's, as templates. */
  env: Record<string, string>;
  /** The job's `outputs`, each a template over `steps`. */
  outputs: Record<string, string>;
  /** This job's matrix combination, with its values' own types. */
  matrix: Record<string, Value>;
  strategy: { 'fail-fast': boolean; 'job-index': number; 'job-total': number; 'max-parallel': number };
  /** The jobs it needs, by id. */
  needs: string[];
  /**
   * Its matrix, an expression over the outputs of the jobs it needs, not known when it was
   * compiled: the run compiles it again once they have ended, one plan per combination.
   */
  matrixFromNeeds?: string;
  defaults: { shell?: string; workingDirectory?: string };
  /** `continue-on-error` of the job: a failure does not fail the workflow. */
  continueOnError: boolean;
  /** The container the steps run in (the `runs-on` image or `container:`), by step name. */
  container: string;
  /** Whether the job runs in `container:` (GitHub mounts the workspace at /__w there) rather than on the runner image. */
  inContainer: boolean;
  /** The `github` context of the run, as known when the plan was made. */
  context?: Record<string, Value>;
  /** The `inputs` context: workflow_dispatch (or workflow_call) inputs with their defaults. */
  inputs?: Record<string, Value>;
  /** Whether a step uploads artifacts, or downloads them (from the jobs it needs). */
  uploads?: boolean;
  downloads?: boolean;
  /** The workflow's `on:`, for the server's repository pipelines. */
  triggers?: WorkflowTriggers;
  /** RUNNER_OS and runner.os: what the job's image is (Linux here). */
  runnerOs: string;
  /** A job of a reusable workflow: the call that runs it (github/called-workflow.ts). */
  call?: WorkflowCall;
}

/**
 * What a job of a reusable workflow gets from the job that calls it, as GitHub runs such a
 * call: each called job is a job of the run, named `CALLER / JOB`, whose `inputs` are the
 * caller's `with:`, whose `secrets` are the caller's `secrets:`, and which runs only if the
 * caller's `if:` (over the caller's `needs`) says so. The calling workflow's `needs.CALLER`
 * is answered by the called workflow's `on.workflow_call.outputs`, over its jobs.
 */
export interface WorkflowCall {
  /** The calling job as its workflow's `needs` name it: `build`, or `outer / build` inside another call. */
  job: string;
  /** This call: the calling job with its matrix values (`build (1)`); each called job's pipeline is `CALLER / JOB`. */
  caller: string;
  uses: string;
  /** The caller's `if:` when only the run answers it; absent: success() of the caller's needs. */
  if?: string;
  /** The caller's `needs`, by id in the calling workflow. */
  needs: string[];
  /** The called workflow's inputs known when the file is read: the caller's `with:` over the inputs' defaults, typed as declared. */
  inputs: Record<string, Value>;
  /** `with:` values only the run answers (they read `needs`), templates over the caller's contexts, each with its declared type. */
  late: Record<string, { template: string; type: 'string' | 'boolean' | 'number' }>;
  /** The caller's matrix combination, for what the late values and the secrets read of it. */
  matrix: Record<string, Value>;
  /** The calling workflow's own `inputs`, for the outermost call (a deeper call reads its parent's). */
  callerInputs?: Record<string, Value>;
  /** `inherit` (every secret of the caller), or each secret of the called workflow as a template over the caller's `secrets`. */
  secrets: 'inherit' | Record<string, string>;
  /** The called workflow's `outputs`: templates over its `jobs` (`jobs.ID.outputs.NAME`, `jobs.ID.result`). */
  outputs: Record<string, string>;
  /** The call the caller itself is a job of. */
  parent?: WorkflowCall;
}

/** A workflow's `on:` as read: what starts it, for a server's repository pipelines. */
export interface WorkflowTriggers {
  /** Each event with its settings as written (branches, paths, types, cron, inputs). */
  events: Record<string, unknown>;
  /** The cron lines of `schedule`. */
  schedules: string[];
  /** `workflow_dispatch` inputs with their types and defaults. */
  dispatchInputs?: Record<string, unknown>;
  /** `workflow_call`: this is a reusable workflow, with these inputs, secrets and outputs. */
  call?: { inputs: Record<string, { type: string; default?: unknown; required?: boolean }>; secrets: Record<string, { required?: boolean } | null>; outputs: Record<string, { value: string }> };
}
