import { existsSync, readFileSync, statSync } from 'node:fs';
import { join, posix, relative } from 'node:path';
import { createHash } from 'node:crypto';
import { z } from 'zod';
import { FILE_NOT_FOUND, type PipelineNotice, type PipelineProblem } from '../errors.ts';
import type { ActionFrame, GithubStepPlan } from '../github/job-plan.ts';
import { ACTIONS_NODE_DIR } from '../../config.ts';
import type { StepConfig } from '../model.ts';
import { check } from '../validate.ts';
import { YamlSource, type PathSegment } from '../yaml-source.ts';

/**
 * Actions that live in a folder with an action.yml: this repository's (`uses: ./path`), and
 * fetched ones once they are on disk. A composite action's steps become steps of the job,
 * each in the job container (`CALLER > STEP`), seeing the action's inputs and steps (its
 * ActionFrame); a Docker action is its own container, of its image or of the image its
 * Dockerfile builds in the job's engine, with its inputs as INPUT_* variables.
 */

const scalar = z.union([z.string(), z.number(), z.boolean()]);

const actionSchema = z.strictObject({
  name: z.string().optional(),
  description: z.string().optional(),
  author: z.string().optional(),
  inputs: z.record(z.string(), z.strictObject({ description: z.string().optional(), required: z.union([z.boolean(), z.string()]).optional(), default: scalar.nullable().optional(), deprecationMessage: z.string().optional() }).nullable()).optional(),
  outputs: z.record(z.string(), z.strictObject({ description: z.string().optional(), value: z.string().optional() }).nullable()).optional(),
  runs: z.strictObject({
    using: z.string(),
    steps: z.array(z.unknown()).optional(),
    image: z.string().optional(),
    args: z.array(scalar).optional(),
    entrypoint: z.string().optional(),
    env: z.record(z.string(), scalar.nullable()).optional(),
    main: z.string().optional(),
    pre: z.string().optional(),
    post: z.string().optional(),
    'pre-if': z.string().optional(),
    'post-if': z.string().optional(),
    'pre-entrypoint': z.string().optional(),
    'post-entrypoint': z.string().optional(),
  }),
  branding: z.unknown().optional(),
});

type Action = z.infer<typeof actionSchema>;

/** The steps of a composite action, read as the job's own are (formats/github.ts readSteps). */
export type ReadActionSteps = (source: YamlSource, raw: unknown[], base: PathSegment[], frame: Omit<ActionFrame, 'last'>, caller: StepConfig) => StepConfig[];

export interface ActionCall {
  /** The workflow (or outer action) and where the calling step is in it. */
  source: YamlSource;
  at: PathSegment[];
  /** The calling step as compiled so far (its name, timeout, failure policy). */
  config: StepConfig;
  plan: GithubStepPlan;
  uses: string;
  /** The action's folder on disk, and relative to the workspace. */
  dir: string;
  path: string;
  parent?: ActionFrame;
  problems: PipelineProblem[];
  notices: PipelineNotice[];
}

/** The steps a call of a folder action is, or the calling step unchanged when the action cannot be read. */
export function folderActionSteps(call: ActionCall, readSteps: ReadActionSteps): StepConfig[] {
  const { source, at, uses, dir, problems, notices, config, plan } = call;
  const file = ['action.yml', 'action.yaml'].map((f) => join(dir, f)).find((f) => existsSync(f) && statSync(f).isFile());
  if (!file) {
    problems.push({ position: source.position(at, 'uses'), code: FILE_NOT_FOUND, message: `${uses}: the repository has no ${posix.join(call.path, 'action.yml')}: add the action there, or name the right folder` });
    return [config];
  }
  const actionSource = YamlSource.parse(relative(process.cwd(), file) || file, readFileSync(file, 'utf8'));
  const action = check(actionSource, actionSchema, actionSource.value, [], `the action ${uses}`, problems);
  if (!action) return [config];
  const using = action.runs.using.toLowerCase();
  if (using === 'composite') return compositeSteps(call, action, actionSource, readSteps);
  if (using === 'docker') return dockerActionSteps(call, action, actionSource);
  if (/^node\d+$/.test(using)) return javascriptActionSteps(call, action, actionSource);
  problems.push({ position: actionSource.position(['runs'], 'using'), message: `runs.using: ${action.runs.using} is not a kind of action: composite, docker, or node20 (node12, node16, node24)` });
  return [config];
}

/**
 * A JavaScript action: its `main` run in the job container by the Node Nestor mounts there
 * (ACTIONS_NODE_DIR, from ACTIONS_NODE_IMAGE), with its inputs as INPUT_* and the file
 * commands of any step; whichever Node it names, it gets Node 24, as GitHub moves them on.
 */
function javascriptActionSteps(call: ActionCall, action: Action, actionSource: YamlSource): StepConfig[] {
  const { plan, config, notices, source, at } = call;
  undeclaredInputs(call, action);
  if (!action.runs.main) {
    call.problems.push({ position: actionSource.position(['runs'], 'main'), message: `the action ${call.uses} is a ${action.runs.using} action with no main: name its script (main: dist/index.js)` });
    return [config];
  }
  for (const key of ['pre', 'post'] as const) {
    if (action.runs[key]) notices.push(actionSource.notice(['runs'], key, 'NESTOR_ACTION_HOOK_UNSUPPORTED', `runs.${key}: the action's ${key} script (${action.runs[key]}) is not run; its main is`, 'degraded'));
  }
  if (action.runs.using.toLowerCase() !== 'node24') notices.push(source.notice(at, 'uses', 'NESTOR_ACTION_NODE', `${call.uses}: a ${action.runs.using} action, run with Node 24 (the Node Nestor gives actions)`, 'info'));
  const dir = posix.resolve('/github/workspace', call.path);
  const main = posix.resolve(dir, action.runs.main);
  const { uses: _uses, ...script } = plan;
  void _uses;
  const withDefaults = { ...defaultsOf(action), ...Object.fromEntries(Object.entries(plan.with).map(([k, v]) => [k.toLowerCase(), v])) };
  return [{ ...config, github: { ...script, kind: 'run', shell: 'sh', with: withDefaults, usesNode: true, run: `export GITHUB_ACTION_PATH=${shellWord(dir)}\nexec ${ACTIONS_NODE_DIR}/bin/node ${shellWord(main)}` } }];
}

function shellWord(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

function defaultsOf(action: Action): Record<string, string> {
  return Object.fromEntries(Object.entries(action.inputs ?? {}).map(([k, v]) => [k.toLowerCase(), v?.default === undefined || v.default === null ? '' : String(v.default)]));
}

/** Inputs the caller gives that the action does not declare: GitHub warns of them, and so does Nestor. */
function undeclaredInputs(call: ActionCall, action: Action): void {
  const declared = new Set(Object.keys(action.inputs ?? {}).map((k) => k.toLowerCase()));
  const extra = Object.keys(call.plan.with).filter((k) => !declared.has(k.toLowerCase()));
  if (extra.length) call.notices.push(call.source.notice(call.at, 'with', 'NESTOR_ACTION_INPUT_UNKNOWN', `${call.uses}: ${extra.join(', ')} ${extra.length > 1 ? 'are not inputs' : 'is not an input'} of the action (it declares ${[...declared].join(', ') || 'none'}); ${extra.length > 1 ? 'they reach' : 'it reaches'} it as INPUT_* only`, 'info'));
}

function compositeSteps(call: ActionCall, action: Action, actionSource: YamlSource, readSteps: ReadActionSteps): StepConfig[] {
  const { plan, config } = call;
  undeclaredInputs(call, action);
  const frame: Omit<ActionFrame, 'last'> = {
    caller: plan.id,
    uses: call.uses,
    path: call.path,
    with: Object.fromEntries(Object.entries(plan.with).map(([k, v]) => [k.toLowerCase(), v])),
    defaults: defaultsOf(action),
    ...(plan.if !== undefined ? { callerIf: plan.if } : {}),
    callerEnv: plan.env,
    outputs: Object.fromEntries(Object.entries(action.outputs ?? {}).map(([k, v]) => [k, v?.value ?? ''])),
    ...(call.parent ? { parent: call.parent } : {}),
  };
  const steps = readSteps(actionSource, action.runs.steps ?? [], ['runs', 'steps'], frame, config);
  call.notices.push(call.source.notice(call.at, 'uses', 'NESTOR_ACTION_COMPOSITE', `${call.uses}: a composite action (${action.name ?? call.path}); its ${steps.length} step${steps.length === 1 ? '' : 's'} run in the job container as steps of this job, named "${config.name} > …"`, 'info'));
  if (steps.length === 0) return [{ ...config, github: { ...plan, kind: 'run', run: ':' } }];
  return steps;
}

/**
 * A Docker action: a container of its own, with the workspace, its `runs.env` and the inputs
 * as INPUT_* variables, its `args` filled from the inputs when it starts. `image: Dockerfile`
 * (or a folder's) is built first, in the job's own engine, by a step in the job container.
 */
function dockerActionSteps(call: ActionCall, action: Action, actionSource: YamlSource): StepConfig[] {
  const { plan, config, notices, source, at } = call;
  undeclaredInputs(call, action);
  const runs = action.runs;
  if (!runs.image) {
    call.problems.push({ position: actionSource.position(['runs'], 'image'), message: `the action ${call.uses} has using: docker but no image: name docker://IMAGE or its Dockerfile` });
    return [config];
  }
  for (const key of ['pre-entrypoint', 'post-entrypoint'] as const) {
    if (runs[key]) notices.push(actionSource.notice(['runs'], key, 'NESTOR_ACTION_HOOK_UNSUPPORTED', `runs.${key}: the action's ${key.split('-')[0]} step is not run; its main entrypoint is`, 'degraded'));
  }
  const env = Object.fromEntries(Object.entries(runs.env ?? {}).map(([k, v]) => [k, v === null ? '' : String(v)]));
  const withDefaults = { ...defaultsOf(action), ...Object.fromEntries(Object.entries(plan.with).map(([k, v]) => [k.toLowerCase(), v])) };
  const dockerAction = { args: (runs.args ?? []).map(String), env };
  const own = withoutExec(config);
  const entrypoint = runs.entrypoint ? { entrypoint: [runs.entrypoint] } : {};
  if (runs.image.startsWith('docker://')) {
    return [{ ...own, image: runs.image.slice('docker://'.length), ...entrypoint, github: { ...plan, kind: 'run', with: withDefaults, dockerAction } }];
  }
  const context = posix.join(call.path, posix.dirname(runs.image));
  const dockerfile = posix.join(call.path, runs.image);
  const tag = `nestor-action/${posix.basename(call.path).toLowerCase().replace(/[^a-z0-9_.-]/g, '-') || 'action'}:${createHash('sha256').update(dockerfile).digest('hex').slice(0, 12)}`;
  notices.push(source.notice(at, 'uses', 'NESTOR_ACTION_DOCKER', `${call.uses}: a Docker action; its image is built from ${dockerfile} in the job's own engine as the step starts, then run with the workspace`, 'info'));
  // A script step, not an action's: the build runs the docker client in the job container.
  const { uses: _uses, ...script } = plan;
  void _uses;
  const build: StepConfig = {
    ...config,
    name: `${config.name} (build)`,
    commands: [],
    github: { ...script, id: `${plan.id}/__build`, kind: 'run', run: `docker build -q -t ${tag} -f ${dockerfile} ${context}`, shell: 'sh', with: {}, env: {}, workingDirectory: '.' },
  };
  return [build, { ...own, image: tag, imageBuiltInJob: true, ...entrypoint, github: { ...plan, kind: 'run', with: withDefaults, dockerAction } }];
}

function withoutExec(config: StepConfig): StepConfig {
  const { execIn: _execIn, ...own } = config;
  void _execIn;
  return own;
}
