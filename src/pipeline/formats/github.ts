import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, posix, resolve } from 'node:path';
import { PLATFORM_UNAVAILABLE, REMOTE_UNREACHABLE, type PipelineNotice, type PipelineProblem } from '../errors.ts';
import { ExpressionError, type ExpressionScope, type Value } from '../github/expression.ts';
import { GITHUB_WORKSPACE, githubContext, runnerContext } from '../github/contexts.ts';
import { FILES_DIR, type NeededJob } from '../github/step-runtime.ts';
import { ACTIONS_NODE_DIR, ACTIONS_NODE_IMAGE } from '../../config.ts';
import type { ActionFrame, GithubJobPlan, GithubStepPlan } from '../github/job-plan.ts';
import { fill, fillKnown, fillValue, ifExpression, namesStatus, readsRunState } from '../github/templates.ts';
import { namespaceOf } from '../github/called-workflow.ts';
import type { ConcurrencyGroup, Condition, PipelineConfig, StepConfig } from '../model.ts';
import { didYouMean } from '../suggest.ts';
import { check } from '../validate.ts';
import type { RunFacts } from '../when.ts';
import type { PathSegment, YamlSource } from '../yaml-source.ts';
import { actionUse, type ActionUse } from './github-actions.ts';
import { jobMatrix } from './github-job-matrix.ts';
import { jobSchema, stepSchema, workflowSchema, type GithubJob, type GithubStep, type Workflow } from './github-schema.ts';
import { callJob, staticInputs, type CallSite, type Placed, type WorkflowContext, type WorkflowReader } from './github-reusable.ts';
import { checkExpression, checkTemplateAt, listOf, runsAfter, staticIf } from './github-static.ts';
import { readTriggers } from './github-triggers.ts';
import { unreadable } from './items.ts';
import { runsOnImage } from './github-runs-on.ts';
import { containerOf, servicesOf } from './github-containers.ts';
import { folderActionSteps, type ReadActionSteps } from './github-local-actions.ts';
import { DEFAULT_INCLUDE_SOURCE, FetchError, fetchActionTree, type FetchedAction, type IncludeSource } from '../include-fetch.ts';

/**
 * A GitHub Actions workflow (`.github/workflows/*.yml`, and Gitea's and Forgejo's, which
 * read the same file). Each job becomes a pipeline of its own, one per matrix combination,
 * in an engine of its own; `needs` orders them. A job's steps run one after another in ONE
 * container (the `runs-on` image, or the job's `container:`), as on GitHub, so that what a
 * step installs or leaves outside the workspace is there for the next: that container is the
 * job's first, detached step (JOB_CONTAINER), and every step runs inside it (`execIn`).
 * Expressions that only the run can answer (`steps.*`, `needs.*`, `failure()`) are kept for
 * the runner (github/job-plan.ts); those over the matrix and the run's facts are answered here.
 */

export const JOB_CONTAINER = 'job-container';
/** The default job timeout, GitHub's: 360 minutes. */
const JOB_TIMEOUT_MINUTES = 360;

export interface GithubFacts extends RunFacts {
  /** `-P label=image`: the image each `runs-on` label runs on. */
  platforms?: Record<string, string>;
  /** A manual run's variables: a workflow_dispatch input of the same name takes its value. */
  env?: Record<string, string>;
  /** How the jobs a job needs ended, by job id, where the run knows (a matrix over their outputs expands). */
  needs?: Record<string, NeededJob>;
}

export function readGithub(source: YamlSource, facts: GithubFacts): PipelineConfig[] {
  return readGithubJobs(source, facts).map((r) => r.config);
}

/** A job as read, with the file it is read from: a called workflow's jobs are in the called file. */
export interface ReadJob {
  config: PipelineConfig;
  source: YamlSource;
}

/** The workflow's jobs, those of the workflows its jobs call among them (formats/github-reusable.ts). */
export function readGithubJobs(source: YamlSource, facts: GithubFacts): ReadJob[] {
  const problems: PipelineProblem[] = [];
  const notices: PipelineNotice[] = [];
  if (!source.value || typeof source.value !== 'object' || Array.isArray(source.value)) {
    return [{ config: unreadable(source, 'github', GITHUB_WORKSPACE, [{ position: source.position([]), message: 'a workflow is a map with on: and jobs:' }]), source }];
  }
  const doc = check(source, workflowSchema, source.value, [], 'the workflow', problems);
  if (!doc) return [{ config: unreadable(source, 'github', GITHUB_WORKSPACE, problems), source }];
  const workflowName = doc.name ?? source.file.split('/').pop()!.replace(/\.ya?ml$/, '');
  const { triggers, when } = readTriggers(source, doc.on, problems, notices);
  const inputs = Object.fromEntries(Object.entries((triggers.dispatchInputs ?? triggers.call?.inputs ?? {}) as Record<string, { default?: unknown; type?: string }>).map(([k, v]) => [k, dispatchInput(k, v, facts) ?? ((v?.default ?? '') as Value)]));
  recordTopLevel(source, doc, notices);
  const runName = doc['run-name'] !== undefined ? runNameOf(doc['run-name'], facts, workflowName, inputs) : undefined;
  const concurrency = doc.concurrency !== undefined ? concurrencyOf(doc.concurrency, facts, workflowName, inputs) : undefined;
  const read = readJobs(source, facts, doc, { workflowName, inputs, late: [], when, problems, trail: [resolve(source.file)], home: { kind: 'repository' } });
  if (read.length === 0) return [{ config: { ...unreadable(source, 'github', GITHUB_WORKSPACE, problems), notices }, source }];
  // The workflow's own findings are said once, with its first job.
  const first = read[0]!;
  first.config = { ...first.config, problems: [...problems, ...(first.config.problems ?? [])], notices: [...notices, ...(first.config.notices ?? [])] };
  return read.map(({ config, source: from }) => {
    const inGroup = concurrency ? { ...config, concurrency } : config;
    return { config: inGroup.github ? { ...inGroup, problems: inGroup.problems ?? [], github: { ...inGroup.github, triggers, ...(runName ? { runName } : {}) } } : { ...inGroup, problems: inGroup.problems ?? [] }, source: from };
  });
}

/** The jobs of one workflow, the run's or a called one's, each waiting for the pipelines of the jobs it needs. */
function readJobs(source: YamlSource, facts: GithubFacts, doc: Workflow, w: WorkflowContext): Placed[] {
  const workflowEnv = envOf(source, doc.env, ['env'], w.problems);
  const jobIds = Object.keys(doc.jobs);
  checkNeeds(source, doc.jobs, w.problems);
  const reader: WorkflowReader = { readJobs: (s, d, inner) => readJobs(s, facts, d, inner), matrixOf: (s, job, at, problems, notices) => jobMatrix(s, job, at, problems, notices).combos, topLevel: (s, d, notices) => recordTopLevel(s, d, notices, true) };
  const placed: Placed[] = [];
  for (const [jobId, raw] of Object.entries(doc.jobs)) {
    const at: PathSegment[] = ['jobs', jobId];
    if (!/^[A-Za-z_][A-Za-z0-9_-]*$/.test(jobId)) w.problems.push({ position: source.position(['jobs'], jobId), message: `job id "${jobId}" must start with a letter or _ and hold only letters, digits, - and _` });
    const job = check(source, jobSchema, raw, at, `job ${jobId}`, w.problems);
    if (!job) continue;
    if (job.uses !== undefined) {
      const notices: PipelineNotice[] = [];
      recordJobKeys(source, job, at, notices);
      placed.push(...callJob(source, facts, { jobId, job, at, notices }, w, reader));
      continue;
    }
    const j: JobContext = { jobId, job, at, workflowName: w.workflowName, workflowEnv, defaults: doc.defaults?.run, inputs: w.inputs, late: w.late, jobIds, when: w.when, problems: w.problems, ...(w.call ? { call: w.call } : {}) };
    for (const config of readJob(source, facts, j)) {
      const { dependsOn, ...rest } = config;
      placed.push({ job: jobId, config: rest, source, waits: dependsOn ?? [], root: !dependsOn?.length });
    }
  }
  return byPipeline(placed, namespaceOf(w.call?.plan));
}

/**
 * What each job waits for, by pipeline: a job's own (every matrix combination of it), or every
 * job a calling job runs, which all end before the caller counts as ended.
 */
function byPipeline(placed: Placed[], namespace: string): Placed[] {
  const pipelines = new Map<string, Set<string>>();
  for (const p of placed) pipelines.set(p.job, (pipelines.get(p.job) ?? new Set()).add(p.config.name));
  return placed.map((p) => {
    if (p.waits.length === 0) return p;
    const waits = p.waits.flatMap((w) => [...(pipelines.get(w.name) ?? [namespace + w.name])].map((name) => ({ name, at: w.at })));
    return { ...p, waits: [], config: { ...p.config, dependsOn: [...(p.config.dependsOn ?? []), ...waits] } };
  });
}

/**
 * A workflow_dispatch input a manual run gave (`nestor pipelines run --var NAME=VALUE`), typed
 * as the input is declared: a boolean's `true`/`false`, a number's digits.
 */
function dispatchInput(name: string, declared: { type?: string } | null | undefined, facts: GithubFacts): Value | undefined {
  const given = facts.event === 'manual' || facts.event === 'workflow_dispatch' ? facts.env?.[name] : undefined;
  if (given === undefined) return undefined;
  if (declared?.type === 'boolean') return given === 'true';
  if (declared?.type === 'number' && given.trim() !== '' && Number.isFinite(Number(given))) return Number(given);
  return given;
}

/** `run-name`: the run's title, over the github and inputs contexts (what GitHub allows there). */
function runNameOf(written: string, facts: GithubFacts, workflow: string, inputs: Record<string, Value>): string {
  return fillKnown(written, beforeRunScope(facts, workflow, inputs)).trim();
}

/** What a workflow's own keys (run-name, concurrency) may read: github and inputs, before any job runs. */
function beforeRunScope(facts: GithubFacts, workflow: string, inputs: Record<string, Value>): ExpressionScope {
  return { contexts: { github: githubContext(facts, { workflow, job: '' }), inputs } };
}

/**
 * A workflow's `concurrency`, its group and cancel-in-progress filled from what is known before
 * the run (github, inputs); an empty group is none, as on GitHub.
 */
function concurrencyOf(written: string | { group: string; 'cancel-in-progress'?: boolean | string }, facts: GithubFacts, workflow: string, inputs: Record<string, Value>): ConcurrencyGroup | undefined {
  const scope = beforeRunScope(facts, workflow, inputs);
  const { group, 'cancel-in-progress': cancel } = typeof written === 'string' ? { group: written } : written;
  const filled = fillKnown(group, scope).trim();
  return filled ? { group: filled, cancelInProgress: booleanOf(cancel, scope) ?? false } : undefined;
}

interface JobContext {
  jobId: string;
  job: GithubJob;
  at: PathSegment[];
  workflowName: string;
  workflowEnv: Record<string, string>;
  defaults?: { shell?: string; 'working-directory'?: string };
  inputs: Record<string, Value>;
  /** Inputs only the run knows: a called workflow's, which its caller gives from its needs. */
  late: string[];
  jobIds: string[];
  when: Condition[];
  problems: PipelineProblem[];
  /** The call that runs the job, in a called workflow. */
  call?: CallSite;
}

function readJob(source: YamlSource, facts: GithubFacts, j: JobContext): PipelineConfig[] {
  const { job, at, jobId } = j;
  const problems: PipelineProblem[] = [];
  const jobNotices: PipelineNotice[] = [];
  recordJobKeys(source, job, at, jobNotices);
  for (const key of ['with', 'secrets'] as const) {
    if (job[key] !== undefined) problems.push({ position: source.position(at, key), message: `${key}: is what a job that calls a reusable workflow (uses:) gives it; job ${jobId} runs steps: give a step its inputs under the step's with:, and its secrets through env:` });
  }
  if (job['runs-on'] === undefined) problems.push({ position: source.position(at.slice(0, -1), jobId), message: `job ${jobId} has no runs-on: say where it runs (runs-on: ubuntu-latest)` });
  if (!job.steps?.length) problems.push({ position: source.position(at.slice(0, -1), jobId), message: `job ${jobId} has no steps: a job runs steps (or uses: a reusable workflow)` });
  // A job of a called workflow is expanded with its caller; one of the run's own, over needs, once they have ended.
  const { combos, fromNeeds } = jobMatrix(source, job, at, problems, jobNotices, { ...(facts.needs ? { needs: facts.needs } : {}), inputs: staticInputs(j.inputs, j.late), expandsLater: !j.call });
  const written = typeof job.strategy === 'object' ? job.strategy : undefined;
  const failFast = typeof written?.['fail-fast'] === 'boolean' ? written['fail-fast'] : true;
  const maxParallel = typeof written?.['max-parallel'] === 'number' ? written['max-parallel'] : 0;
  const jobEnv = envOf(source, job.env, [...at, 'env'], problems);
  const github = githubContext(facts, { workflow: j.workflowName, job: jobId });
  return combos.map((combo, index): PipelineConfig => {
    // What this combination's parts mean, beside what the job's own keys do.
    const notices: PipelineNotice[] = [...jobNotices];
    const strategy = { 'fail-fast': failFast, 'job-index': index, 'job-total': combos.length, 'max-parallel': maxParallel || combos.length };
    const scope: ExpressionScope = { contexts: { github, matrix: combo, strategy, inputs: staticInputs(j.inputs, j.late), vars: {}, env: { ...j.workflowEnv }, secrets: {}, runner: runnerContext() } };
    const evalText = (text: string, where: PathSegment[], key?: string) => staticText(source, text, scope, where, key, problems);
    const container = job.container !== undefined ? containerOf(source, job.container, [...at, 'container'], scope, problems, notices) : undefined;
    const runsOn = runsOnImage(source, job['runs-on'] ?? 'ubuntu-latest', [...at], scope, facts.platforms ?? {}, problems, notices, container?.image);
    const image = container?.image ?? runsOn.image;
    const services = Object.entries(job.services ?? {}).flatMap(([name, s]) => servicesOf(source, name, s, [...at, 'services', name], scope, problems, notices)).filter((s) => s.image !== '' && !runsOn.unavailable);
    const jobTimeout = numberOf(job['timeout-minutes'], scope) ?? JOB_TIMEOUT_MINUTES;
    const continueOnError = booleanOf(job['continue-on-error'], scope) ?? false;
    const defaults = { shell: job.defaults?.run?.shell ?? j.defaults?.shell, workingDirectory: job.defaults?.run?.['working-directory'] ?? j.defaults?.['working-directory'] };
    const setUp: StepConfig = {
      ...blankStep(JOB_CONTAINER, at),
      image,
      // GitHub keeps its job container alive the same way, whatever the image's own command.
      entrypoint: ['tail'],
      command: ['-f', '/dev/null'],
      environment: container?.environment ?? {},
      privileged: container?.privileged ?? false,
      volumes: [...(container?.volumes ?? []), fileCommands(at)],
      ...(container?.user !== undefined ? { user: container.user } : {}),
      detach: true,
    };
    const steps = readSteps(source, facts, job.steps ?? [], [...at, 'steps'], scope, jobTimeout, problems, notices);
    const group = job.concurrency !== undefined ? jobGroupOf(source, job.concurrency, at, scope, notices) : undefined;
    if (group) setUp.recorded = { ...setUp.recorded, resourceGroup: group };
    const jobIf = job.if !== undefined ? ifExpression(job.if) : undefined;
    if (jobIf !== undefined) checkExpression(source, jobIf, at, 'if', problems);
    const decided = jobIf !== undefined && !readsRunState(jobIf) ? staticIf(jobIf, scope) : undefined;
    const githubJob: GithubJobPlan = {
      jobId,
      workflow: j.workflowName,
      ...(jobIf !== undefined ? { if: jobIf } : {}),
      env: { ...j.workflowEnv, ...jobEnv },
      outputs: job.outputs ?? {},
      matrix: combo,
      strategy,
      needs: listOf(job.needs),
      defaults: { ...(defaults.shell ? { shell: defaults.shell } : {}), ...(defaults.workingDirectory ? { workingDirectory: defaults.workingDirectory } : {}) },
      continueOnError,
      container: JOB_CONTAINER,
      inContainer: container !== undefined,
      context: github,
      inputs: j.inputs,
      ...(steps.some((s) => s.github?.kind === 'upload-artifact') ? { uploads: true } : {}),
      ...(steps.some((s) => s.github?.kind === 'download-artifact') ? { downloads: true } : {}),
      runnerOs: 'Linux',
      ...(j.call ? { call: j.call.plan } : {}),
      ...(fromNeeds ? { matrixFromNeeds: fromNeeds } : {}),
    };
    for (const [k, v] of Object.entries(job.outputs ?? {})) checkTemplateAt(source, v, [...at, 'outputs'], k, problems);
    // A name over a late input keeps that part as written, as one over needs would be if GitHub allowed it here.
    const title = job.name === undefined ? undefined : j.late.length && checkTemplateAt(source, job.name, at, 'name', problems) ? fillKnown(job.name, scope).trim() : evalText(job.name, at, 'name');
    // A false if: of the job that calls this one's workflow leaves out every job of it.
    const notRun = runsOn.unavailable ?? j.call?.skip ?? (decided === false ? `the job's if: ${jobIf} is false` : undefined);
    return {
      name: namespaceOf(j.call?.plan) + jobId,
      format: 'github',
      file: source.file,
      environment: {},
      // A step in a container of its own (docker://, a Docker action) writes its file commands where the job container reads them.
      steps: [...withActionsNode(withActionsVolume(setUp, steps, at), steps, at), ...steps.map((s) => (s.execIn ? s : { ...s, volumes: [...s.volumes, fileCommands(at)] }))].map((s) => (notRun !== undefined ? { ...s, notRunBecause: notRun } : s)),
      services,
      volumes: [{ name: FILE_COMMANDS_VOLUME, kind: 'temp', at }, ...(steps.some((s) => s.github?.usesNode) ? [{ name: ACTIONS_NODE_VOLUME, kind: 'temp' as const, at }] : []), { name: ACTIONS_VOLUME, kind: 'temp', at }],
      matrix: [Object.fromEntries(Object.entries(combo).map(([k, v]) => [k, typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)]))],
      workspace: GITHUB_WORKSPACE,
      when: j.when,
      ...(listOf(job.needs).length ? { dependsOn: listOf(job.needs).map((n, i) => ({ name: n, at: Array.isArray(job.needs) ? [...at, 'needs', i] : [...at, 'needs'] })) } : {}),
      ...runsAfter(jobIf),
      ...(runsOn.labels.length ? { runnerLabels: runsOn.labels } : {}),
      ...(title && title !== jobId ? { title } : {}),
      at,
      notices,
      problems: index === 0 ? problems : [],
      github: githubJob,
    };
  });
}

/** The volume the Node of JavaScript actions is in: filled from ACTIONS_NODE_IMAGE, mounted into the job container. */
const ACTIONS_NODE_VOLUME = 'github-actions-node';

/**
 * The job container, and before it, when a step is a JavaScript action, a step of the Node
 * image that fills the job's Node volume (Docker copies an image's folder into an empty
 * volume mounted there), which the job container then mounts read-only.
 */
function withActionsNode(setUp: StepConfig, steps: StepConfig[], at: PathSegment[]): StepConfig[] {
  if (!steps.some((s) => s.github?.usesNode)) return [setUp];
  const fill: StepConfig = { ...blankStep('actions-node', at), image: ACTIONS_NODE_IMAGE, volumes: [{ source: ACTIONS_NODE_VOLUME, target: ACTIONS_NODE_DIR, readOnly: false, at }] };
  return [fill, { ...setUp, volumes: [...setUp.volumes, { source: ACTIONS_NODE_VOLUME, target: ACTIONS_NODE_DIR, readOnly: true, at }] }];
}

/** Where fetched actions are in the job container: a volume of the job, filled at set-up. */
const ACTIONS_VOLUME = 'github-actions';
const ACTIONS_DIR = '/github/actions';

/** The job container mounts the actions volume when a step (or an action's step) runs a fetched action. */
function withActionsVolume(setUp: StepConfig, steps: StepConfig[], at: PathSegment[]): StepConfig {
  if (!steps.some((s) => s.volumeFolders?.some((f) => f.volume === ACTIONS_VOLUME))) return setUp;
  return { ...setUp, volumes: [...setUp.volumes, { source: ACTIONS_VOLUME, target: ACTIONS_DIR, readOnly: false, at }] };
}

/** The job's volume for $GITHUB_OUTPUT and the other file commands (github/step-runtime.ts FILES_DIR). */
const FILE_COMMANDS_VOLUME = 'github-file-commands';

function fileCommands(at: PathSegment[]): StepConfig['volumes'][number] {
  return { source: FILE_COMMANDS_VOLUME, target: FILES_DIR, readOnly: false, at };
}

/**
 * The job's steps, each run inside the job's container, one after another; or, with `inAction`,
 * the steps of a composite action the step `caller` uses, read from the action's file.
 */
function readSteps(source: YamlSource, facts: GithubFacts, raw: unknown[], base: PathSegment[], jobScope: ExpressionScope, jobTimeout: number, problems: PipelineProblem[], notices: PipelineNotice[], inAction?: { frame: Omit<ActionFrame, 'last'>; caller: StepConfig }): StepConfig[] {
  const names = new Map<string, number>();
  const ids = new Set<string>();
  // An action's steps see its inputs, known only as it runs: nothing of theirs is decided here.
  const scope: ExpressionScope = inAction ? { contexts: Object.fromEntries(Object.entries(jobScope.contexts).filter(([k]) => k !== 'inputs' && k !== 'steps')) } : jobScope;
  const caller = inAction?.caller;
  return raw.flatMap((value, i): StepConfig[] => {
    const at = [...base, i];
    const step = check(source, stepSchema, value, at, `step ${i + 1}`, problems);
    if (!step) return [];
    if (step.uses !== undefined && step.run !== undefined) {
      problems.push({ position: source.position(at, 'run'), message: `step ${i + 1} has both uses: and run:; a step either runs an action or runs a script: split it into two steps` });
      return [];
    }
    if (step.uses === undefined && step.run === undefined) {
      problems.push({ position: source.position(at), message: `step ${i + 1} has neither uses: nor run:: say what it does` });
      return [];
    }
    if (step.id !== undefined) {
      if (ids.has(step.id)) problems.push({ position: source.position(at, 'id'), message: `step id "${step.id}" is used twice in this job: ids name one step each (steps.${step.id})` });
      ids.add(step.id);
    }
    const id = inAction ? `${inAction.frame.caller}/${step.id ?? `__${i}`}` : (step.id ?? `__${i}`);
    const use = step.uses !== undefined ? actionUse(step.uses) : undefined;
    const own = uniqueName(displayName(step, use, scope), names);
    const name = caller ? `${caller.name} > ${own}` : own;
    for (const [key, text] of templatesOf(step)) checkTemplateAt(source, text, at, key, problems);
    const stepIf = step.if !== undefined ? ifExpression(step.if) : undefined;
    if (stepIf !== undefined) checkExpression(source, stepIf, at, 'if', problems);
    const decided = stepIf !== undefined && !inAction && !readsRunState(stepIf) ? staticIf(stepIf, scope) : undefined;
    const mayFollowFailure = (stepIf !== undefined && namesStatus(stepIf) && !/^\s*success\s*\(\s*\)\s*$/i.test(stepIf)) || caller?.when?.some((w) => w.status?.includes('failure')) === true;
    const continueOnError = booleanOf(step['continue-on-error'], scope);
    const timeout = Math.min(numberOf(step['timeout-minutes'], scope) ?? jobTimeout, jobTimeout, caller ? caller.timeoutSeconds! / 60 : Infinity);
    const plan: GithubStepPlan = {
      kind: 'run',
      id,
      ...(stepIf !== undefined ? { if: stepIf } : {}),
      env: Object.fromEntries(Object.entries(typeof step.env === 'object' && step.env ? step.env : {}).map(([k, v]) => [k, v === null ? '' : String(v)])),
      with: Object.fromEntries(Object.entries(step.with ?? {}).map(([k, v]) => [k, v === null ? '' : String(v)])),
      ...(step.shell !== undefined ? { shell: step.shell } : {}),
      ...(step['working-directory'] !== undefined ? { workingDirectory: step['working-directory'] } : {}),
      continueOnError: continueOnError ?? (typeof step['continue-on-error'] === 'string' ? step['continue-on-error'] : false),
      ...(inAction ? { action: { ...inAction.frame, last: i === raw.length - 1 } } : {}),
    };
    if (typeof step.env === 'string') problems.push({ position: source.position(at, 'env'), message: 'env: is a map of variables to values' });
    const base2: StepConfig = {
      // An action's step is placed at its caller in the workflow, for what compile says of it.
      ...blankStep(name, caller?.at ?? at),
      commands: step.run !== undefined ? [step.run] : [],
      timeoutSeconds: timeout * 60,
      ignoreFailure: continueOnError === true || caller?.ignoreFailure === true,
      execIn: JOB_CONTAINER,
      ...(mayFollowFailure ? { when: [{ status: ['success', 'failure'] }] } : {}),
      ...(caller?.notRunBecause ? { notRunBecause: caller.notRunBecause } : decided === false ? { notRunBecause: `its if: ${stepIf} is false` } : {}),
    };
    if (step.run !== undefined) {
      dockerCliNotices(source, step.run, at, notices);
      return [{ ...base2, github: { ...plan, run: step.run } }];
    }
    const readInner: ReadActionSteps = (actionSource, steps, at2, frame, callerConfig) => readSteps(actionSource, facts, steps, at2, jobScope, jobTimeout, problems, notices, { frame, caller: callerConfig });
    return actionStep(source, facts, step, use!, base2, plan, at, problems, notices, readInner);
  });
}

function actionStep(source: YamlSource, facts: GithubFacts, step: GithubStep, use: ActionUse, config: StepConfig, plan: GithubStepPlan, at: PathSegment[], problems: PipelineProblem[], notices: PipelineNotice[], readInner: ReadActionSteps): StepConfig[] {
  return [oneActionStep(source, facts, step, use, config, plan, at, problems, notices, readInner)].flat();
}

function oneActionStep(source: YamlSource, facts: GithubFacts, step: GithubStep, use: ActionUse, config: StepConfig, plan: GithubStepPlan, at: PathSegment[], problems: PipelineProblem[], notices: PipelineNotice[], readInner: ReadActionSteps): StepConfig | StepConfig[] {
  const uses = step.uses!;
  switch (use.kind) {
    case 'invalid':
      problems.push({ position: source.position(at, 'uses'), message: use.why });
      return config;
    case 'checkout':
      notices.push(source.notice(at, 'uses', 'NESTOR_CHECKOUT_NATIVE', `${uses}: done by Nestor from the run's own source (no token, no network); path, ref and fetch-depth are honoured where the source has the history for them`, 'info'));
      return { ...config, github: { ...plan, kind: 'checkout', uses } };
    case 'upload-artifact':
    case 'download-artifact':
      notices.push(source.notice(at, 'uses', 'NESTOR_ARTIFACT_NATIVE', `${uses}: served by the run's artifact store, for the jobs of this run`, 'info'));
      return { ...config, github: { ...plan, kind: use.kind, uses } };
    case 'cache':
      notices.push(source.notice(at, 'uses', 'NESTOR_CACHE_COLD', `${uses}: read; no cache is served yet, so it is a miss (cache-hit is false) and the job builds from cold: only time is lost`, 'info'));
      return { ...config, github: { ...plan, kind: 'cache', uses } };
    case 'docker': {
      const args = plan.with.args;
      const entrypoint = plan.with.entrypoint;
      // A docker:// step is a container of its own, with the workspace, as on GitHub.
      const { execIn: _execIn, ...own } = config;
      void _execIn;
      return { ...own, image: use.image, ...(entrypoint ? { entrypoint: [entrypoint] } : {}), ...(args ? { command: splitArgs(args) } : {}), github: { ...plan, kind: 'run', uses } };
    }
    case 'local': {
      const dir = facts.includes?.repoDir;
      const path = posix.normalize(use.path);
      if (dir === undefined) {
        notices.push(source.notice(at, 'uses', 'NESTOR_ACTION_UNSUPPORTED', `${uses}: an action of the repository, whose files are not where the workflow is read; the step is not run`, 'degraded'));
        return { ...config, github: { ...plan, kind: 'unavailable', uses, unavailable: `${uses}: the repository's files are not here` } };
      }
      if (path.startsWith('..')) {
        problems.push({ position: source.position(at, 'uses'), message: `${uses}: a local action is a folder of the repository; ${use.path} leads out of it` });
        return config;
      }
      // An action an earlier step checks out there (actions/checkout with path:, another repository or ref): its files exist only as the job runs.
      const into = checkedOutBefore(source, at).find((p) => path === p || path.startsWith(`${p}/`));
      if (into !== undefined && !existsSync(join(dir, path))) {
        notices.push(source.notice(at, 'uses', 'NESTOR_ACTION_UNSUPPORTED', `${uses}: an action an earlier step checks out into ${into}, readable only as the job runs, which Nestor does not do yet; the step is not run`, 'degraded'));
        return { ...config, github: { ...plan, kind: 'unavailable', uses, unavailable: `${uses}: checked out by an earlier step, read only as the job runs` } };
      }
      return folderActionSteps({ source, at, config, plan: { ...plan, uses }, uses, dir: join(dir, path), path, ...(plan.action ? { parent: plan.action } : {}), problems, notices }, readInner);
    }
    case 'remote': {
      const settings = { ...DEFAULT_INCLUDE_SOURCE, ...facts.includes };
      const where = `${settings.actionsBase}/${use.owner}/${use.repo}`;
      const fetched = fetchedAction(use, settings);
      let reason = 'why' in fetched ? fetched.why : '';
      if ('dir' in fetched) {
        const into = posix.join(use.owner, use.repo, fetched.commit.slice(0, 12), use.path);
        const path = posix.join(ACTIONS_DIR, into);
        notices.push(source.notice(at, 'uses', 'NESTOR_ACTION_FETCHED', `${uses}: fetched from ${where} at ${fetched.commit.slice(0, 12)}, handed to the job at ${path}`, 'info'));
        const steps = [folderActionSteps({ source, at, config, plan: { ...plan, uses }, uses, dir: fetched.dir, path, ...(plan.action ? { parent: plan.action } : {}), problems, notices }, readInner)].flat();
        if (steps.length === 1 && steps[0] === config) return config;
        // The folder is copied into the job's actions volume at set-up, whatever its size.
        const [first, ...rest] = steps as [StepConfig, ...StepConfig[]];
        return [{ ...first, volumeFolders: [...(first.volumeFolders ?? []), { volume: ACTIONS_VOLUME, dir: fetched.dir, into }] }, ...rest];
      }
      const message = use.setup
        ? `${uses}: a setup action, fetched from ${where}; it could not be (${reason}), so the step is not run and the job uses the image's own toolchain`
        : `${uses}: fetched from ${where}; it could not be (${reason}), so the step is not run`;
      notices.push(source.notice(at, 'uses', REMOTE_UNREACHABLE, message, 'degraded'));
      return { ...config, github: { ...plan, kind: 'unavailable', uses, unavailable: `${uses} could not be fetched (${reason})` } };
    }
  }
}

/** The `path:` of each actions/checkout step before the step at `at`, in the same list of steps. */
function checkedOutBefore(source: YamlSource, at: PathSegment[]): string[] {
  let list: unknown = source.value;
  for (const key of at.slice(0, -1)) list = list && typeof list === 'object' ? (list as Record<string | number, unknown>)[key] : undefined;
  const index = at[at.length - 1];
  if (!Array.isArray(list) || typeof index !== 'number') return [];
  return list.slice(0, index).flatMap((s) => {
    const step = s as { uses?: unknown; with?: { path?: unknown } } | null;
    return typeof step?.uses === 'string' && /^actions\/checkout@/.test(step.uses) && typeof step.with?.path === 'string' ? [posix.normalize(step.with.path)] : [];
  });
}

function fetchedAction(use: Extract<ActionUse, { kind: 'remote' }>, settings: IncludeSource): FetchedAction | { why: string } {
  try {
    return fetchActionTree(use.owner, use.repo, use.ref, use.path, settings);
  } catch (err) {
    if (!(err instanceof FetchError)) throw err;
    return { why: err.message };
  }
}

/** What a run: script asks of Docker that Debian bookworm's client cannot give. */
function dockerCliNotices(source: YamlSource, run: string, at: PathSegment[], notices: PipelineNotice[]): void {
  if (/(^|[\s;&|(])docker\s+compose\s/m.test(run)) notices.push(source.notice(at, 'run', 'NESTOR_DOCKER_COMPOSE_V2', 'the script runs `docker compose` (Compose v2), which Debian bookworm does not package: the default image has docker-compose (v1) only; write docker-compose, or give an image with the plugin (-P ubuntu-latest=IMAGE)', 'degraded'));
  if (/(^|[\s;&|(])docker\s+buildx\s/m.test(run)) notices.push(source.notice(at, 'run', 'NESTOR_DOCKER_BUILDX', 'the script runs `docker buildx`, which Debian bookworm does not package: the job engine builds with its built-in BuildKit through docker build (DOCKER_BUILDKIT=1); give an image with the plugin for buildx itself', 'degraded'));
}

function checkNeeds(source: YamlSource, jobs: Record<string, unknown>, problems: PipelineProblem[]): void {
  const ids = Object.keys(jobs);
  const needsOf = (id: string) => {
    const n = (jobs[id] as { needs?: unknown } | null)?.needs;
    return typeof n === 'string' ? [n] : Array.isArray(n) ? n.filter((x): x is string => typeof x === 'string') : [];
  };
  for (const id of ids) {
    const raw = (jobs[id] as { needs?: unknown } | null)?.needs;
    needsOf(id).forEach((need, i) => {
      if (ids.includes(need)) return;
      const position = Array.isArray(raw) ? source.position(['jobs', id, 'needs', i]) : source.position(['jobs', id], 'needs');
      problems.push({ position, message: `job ${id} needs ${need}, which is not a job of this workflow${didYouMean(need, ids)}` });
    });
  }
  // A cycle: the first job found on one, named with the way round.
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (id: string, trail: string[]): boolean => {
    if (state.get(id) === 'done') return false;
    if (state.get(id) === 'visiting') {
      problems.push({ position: source.position(['jobs', id], 'needs'), message: `jobs need each other in a circle: ${[...trail.slice(trail.indexOf(id)), id].join(' → ')}; take one of them out of needs` });
      return true;
    }
    state.set(id, 'visiting');
    const found = needsOf(id).filter((n) => ids.includes(n)).some((n) => visit(n, [...trail, id]));
    state.set(id, 'done');
    return found;
  };
  for (const id of ids) if (visit(id, [])) break;
}

/** Keys of the workflow recorded for the server or said for what they mean here; `called`: a workflow a job calls. */
function recordTopLevel(source: YamlSource, doc: { permissions?: unknown; concurrency?: unknown; 'run-name'?: string }, notices: PipelineNotice[], called = false): void {
  if (doc.permissions !== undefined) notices.push(source.notice([], 'permissions', 'NESTOR_PERMISSIONS_RECORDED', 'permissions: recorded as the scope of the job token a server gives; nestor run gives no token', 'info'));
  if (doc['run-name'] !== undefined && called) notices.push(source.notice([], 'run-name', 'NESTOR_RUN_NAME_UNUSED', "run-name: a called workflow's is not used, as on GitHub: the run is named by the workflow that calls it", 'info'));
  else if (doc['run-name'] !== undefined) notices.push(source.notice([], 'run-name', 'NESTOR_RUN_NAME_RECORDED', 'run-name: recorded as the title a server shows for the run (nestor run names jobs, not runs)', 'info'));
  if (doc.concurrency !== undefined && called) notices.push(source.notice([], 'concurrency', 'NESTOR_CONCURRENCY_RECORDED', "concurrency: a called workflow's group is not the run's: only the calling workflow's own group is recorded for the whole run", 'info'));
  else if (doc.concurrency !== undefined) notices.push(source.notice([], 'concurrency', 'NESTOR_CONCURRENCY_RECORDED', "concurrency: a server runs one pipeline of the group at a time (a newer one waits, replacing any older one still waiting; with cancel-in-progress it cancels the one running); one nestor run is alone in its group", 'info'));
}

/**
 * A job's own `concurrency` group, filled from its contexts (github, matrix, inputs): on a
 * server, one job of the group runs at a time across the repository's pipelines, the next in
 * order, as GitLab's resource_group does. GitHub's replacing of a waiting job by a newer one,
 * and `cancel-in-progress`, are not done for a job's group, and are said to be not done.
 */
function jobGroupOf(source: YamlSource, written: NonNullable<GithubJob['concurrency']>, at: PathSegment[], scope: ExpressionScope, notices: PipelineNotice[]): string | undefined {
  const { group, 'cancel-in-progress': cancel } = typeof written === 'string' ? { group: written } : written;
  const filled = fillKnown(group, scope).trim();
  if (!filled) return undefined;
  if (filled.includes('${{')) {
    notices.push(source.notice(at, 'concurrency', 'NESTOR_CONCURRENCY_LATE', `concurrency: the job's group ${JSON.stringify(group)} reads what is known only while the run goes (needs, steps): the job is not held by it`, 'degraded'));
    return undefined;
  }
  notices.push(source.notice(at, 'concurrency', 'NESTOR_CONCURRENCY_RECORDED', `concurrency: a server runs one job of the group ${JSON.stringify(filled)} at a time across the repository's pipelines, the next in order (a waiting one is not replaced by a newer one, as GitHub does); one nestor run has nothing to wait for`, 'info'));
  if (booleanOf(cancel, scope) !== false && cancel !== undefined) notices.push(source.notice(at, 'concurrency', 'NESTOR_CANCEL_IN_PROGRESS_JOB', "concurrency: cancel-in-progress of a job's own group is not done: a newer job waits for the one running (the workflow's own group does cancel)", 'degraded'));
  return filled;
}

function recordJobKeys(source: YamlSource, job: GithubJob, at: PathSegment[], notices: PipelineNotice[]): void {
  if (job.permissions !== undefined) notices.push(source.notice(at, 'permissions', 'NESTOR_PERMISSIONS_RECORDED', 'permissions: recorded as the scope of the job token a server gives; nestor run gives no token', 'info'));
  // A job that runs steps has its group read where its contexts are known (jobGroupOf).
  if (job.concurrency !== undefined && job.uses !== undefined) notices.push(source.notice(at, 'concurrency', 'NESTOR_CONCURRENCY_RECORDED', "concurrency: a job's own group spans runs, so one nestor run has nothing to wait for; a server holds whole pipelines by the workflow's group, not single jobs by this one, and may run this job beside the same job of another run", 'info'));
  if (job.environment !== undefined) notices.push(source.notice(at, 'environment', 'NESTOR_ENVIRONMENT_RECORDED', 'environment: recorded as the deployment the job makes; its protection rules and its own secrets are a server\'s (give secrets with --secret here)', 'info'));
  if (job.snapshot !== undefined) notices.push(source.notice(at, 'snapshot', 'NESTOR_SNAPSHOT_UNSUPPORTED', 'snapshot: custom runner images are not made from jobs: the job runs, and no image is saved', 'degraded'));
}

function envOf(source: YamlSource, env: GithubJob['env'], at: PathSegment[], problems: PipelineProblem[]): Record<string, string> {
  if (env === undefined) return {};
  if (typeof env === 'string') {
    problems.push({ position: source.position(at), message: 'env: is a map of variables to values (an expression for the whole map is not supported): write each variable' });
    return {};
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    out[k] = v === null ? '' : String(v);
    checkTemplateAt(source, out[k]!, at, k, problems);
  }
  return out;
}

function blankStep(name: string, at: PathSegment[]): StepConfig {
  return { name, commands: [], afterCommands: [], environment: {}, secrets: [], privileged: false, volumes: [], when: [], ignoreFailure: false, detach: false, at };
}

/** GitHub's name for a step: its `name`, else `Run <first line>` or `Run <action>`. */
function displayName(step: GithubStep, use: ActionUse | undefined, scope: ExpressionScope): string {
  if (step.name !== undefined) {
    try {
      return fillKnown(step.name, scope).trim() || step.name;
    } catch {
      return step.name;
    }
  }
  if (step.run !== undefined) return `Run ${step.run.trim().split('\n')[0]!.slice(0, 60)}`;
  return `Run ${use?.kind === 'docker' ? step.uses!.slice('docker://'.length) : step.uses}`;
}

function uniqueName(name: string, seen: Map<string, number>): string {
  const n = (seen.get(name) ?? 0) + 1;
  seen.set(name, n);
  return n === 1 ? name : `${name} (${n})`;
}

function templatesOf(step: GithubStep): [string, string][] {
  const out: [string, string][] = [];
  if (step.run !== undefined) out.push(['run', step.run]);
  if (step.name !== undefined) out.push(['name', step.name]);
  if (step['working-directory'] !== undefined) out.push(['working-directory', step['working-directory']]);
  for (const v of Object.values(step.with ?? {})) if (typeof v === 'string') out.push(['with', v]);
  if (step.env && typeof step.env === 'object') for (const v of Object.values(step.env)) if (typeof v === 'string') out.push(['env', v]);
  return out;
}

function staticText(source: YamlSource, text: string, scope: ExpressionScope, at: PathSegment[], key: string | undefined, problems: PipelineProblem[]): string {
  try {
    return fill(text, scope);
  } catch (err) {
    if (!(err instanceof ExpressionError)) throw err;
    problems.push({ position: source.position(at, key), message: err.message });
    return text;
  }
}

function numberOf(value: number | string | undefined, scope: ExpressionScope): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number') return value;
  try {
    const n = Number(fillValue(value, scope));
    return Number.isFinite(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}

function booleanOf(value: boolean | string | undefined, scope: ExpressionScope): boolean | undefined {
  if (value === undefined || typeof value === 'boolean') return value;
  try {
    const v = fillValue(value, scope);
    return v === true || v === 'true';
  } catch {
    return undefined;
  }
}

/** `with: args` of a docker:// step, split as a shell would split it (quotes kept together). */
function splitArgs(text: string): string[] {
  return [...text.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
}

