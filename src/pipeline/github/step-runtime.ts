import { posix } from 'node:path';
import { evaluateIf, type ExpressionScope, type Value } from './expression.ts';
import { runnerContext } from './contexts.ts';
import type { ActionFrame, GithubJobPlan, GithubStepPlan } from './job-plan.ts';
import { fill } from './templates.ts';
import { callInputs, callNotRunBecause, callSecrets, needsIn, statusOf } from './called-workflow.ts';

/**
 * A GitHub job's steps as its runner finishes them, one at a time: each step's `if:` against
 * how the job has gone, its expressions filled from the contexts known by then (`steps.*` of
 * the steps before it, `needs.*`, the variables earlier steps wrote to $GITHUB_ENV), and its
 * script wrapped so that what it writes to $GITHUB_OUTPUT, $GITHUB_ENV, $GITHUB_PATH and
 * $GITHUB_STEP_SUMMARY comes back in its output, in marker lines only the runner reads.
 * Pure: the scheduler calls it, and the backend runs what it answers.
 */

export interface NeededJob {
  result: 'success' | 'failure' | 'cancelled' | 'skipped';
  outputs: Record<string, string>;
}

export interface StepRecord {
  outputs: Record<string, string>;
  outcome: 'success' | 'failure' | 'cancelled' | 'skipped';
  conclusion: 'success' | 'failure' | 'cancelled' | 'skipped';
}

export interface GithubJobState {
  /** Variables steps wrote to $GITHUB_ENV, for the steps after them. */
  env: Record<string, string>;
  /** Directories steps wrote to $GITHUB_PATH, newest first. */
  path: string[];
  steps: Record<string, StepRecord>;
  needs: Record<string, NeededJob>;
  secrets: Record<string, string>;
  vars: Record<string, string>;
  /** The job's step summaries, in order (Markdown). */
  summaries: string[];
  /** Values `::add-mask::` named. */
  masks: string[];
  /** Unguessable per job: a step's own output cannot pass for the runner's marker lines by chance. */
  nonce: string;
  failed: boolean;
  cancelled: boolean;
  /** Each composite action entered, by its calling step's id path: whether it runs, its inputs, its caller's env. */
  actions: Record<string, EnteredAction>;
  /** hashFiles() over the job's files, where the runner can read them (the run's source). */
  hashFiles?: (patterns: string[]) => string;
}

export interface EnteredAction {
  /** Why its steps do not run (the calling step's if: is false), if they do not. */
  skip?: string;
  inputs: Record<string, Value>;
  env: Record<string, string>;
}

export function newJobState(nonce: string, secrets: Record<string, string>, needs: Record<string, NeededJob> = {}, vars: Record<string, string> = {}): GithubJobState {
  return { env: {}, path: [], steps: {}, needs, secrets, vars, summaries: [], masks: [], nonce, failed: false, cancelled: false, actions: {} };
}

/**
 * Where the per-step files live: a volume of the job (formats/github.ts), in the job container
 * and in each step's own container (docker://, Docker actions), as GitHub mounts its
 * /github/file_commands.
 */
export const FILES_DIR = '/github/file_commands';
const FILES = ['env', 'output', 'path', 'summary', 'state'] as const;
type FileName = (typeof FILES)[number];

/**
 * The scope a step's expressions see; inside a composite action (`frame`), the action's inputs
 * and its own steps, the calling step's env, and GITHUB_ACTION_PATH's folder.
 */
export function scopeOf(job: GithubJobPlan, state: GithubJobState, stepEnv: Record<string, string> = {}, frame?: ActionFrame): ExpressionScope {
  const entered = frame ? state.actions[frame.caller] : undefined;
  const github = job.context ?? {};
  const contexts: Record<string, Value> = {
    github: frame ? { ...github, action_path: actionPath(job, frame) } : github,
    inputs: entered ? entered.inputs : inputsOf(job, state),
    matrix: job.matrix,
    strategy: job.strategy,
    needs: needsContext(job, state),
    steps: Object.fromEntries(stepsIn(state, frame?.caller).map(([k, v]) => [k, { outputs: v.outputs, outcome: v.outcome, conclusion: v.conclusion }])),
    secrets: { GITHUB_TOKEN: '', ...secretsOf(job, state) },
    vars: state.vars,
    runner: runnerContext(),
    job: { status: state.cancelled ? 'cancelled' : state.failed ? 'failure' : 'success', container: { id: '', network: '' }, services: {} },
    env: { ...jobEnv(job, state), ...state.env, ...entered?.env, ...stepEnv },
  };
  // Where the files cannot be read, no file matches: '' as GitHub answers for no match.
  return { contexts, status: { failed: state.failed, cancelled: state.cancelled }, hashFiles: state.hashFiles ?? (() => '') };
}

/** The steps one scope sees by their own ids: the job's, or those of the action `caller` uses. */
function stepsIn(state: GithubJobState, caller: string | undefined): [string, StepRecord][] {
  const prefix = caller === undefined ? '' : `${caller}/`;
  return Object.entries(state.steps).flatMap(([k, v]): [string, StepRecord][] => {
    if (!k.startsWith(prefix)) return [];
    const own = k.slice(prefix.length);
    return own.includes('/') ? [] : [[own, v]];
  });
}

function actionPath(job: GithubJobPlan, frame: ActionFrame): string {
  // A repository's own action is a folder of the workspace; a fetched one is where its set-up step put it.
  return posix.resolve(String((job.context as Record<string, Value> | undefined)?.workspace ?? '/github/workspace'), frame.path);
}

/**
 * Enters the composite action a step belongs to, once, as its first step is due (and the
 * actions around it first): the calling step's if: decides whether any of its steps run, and
 * its with: (over the caller's contexts) and the inputs' defaults become the action's inputs.
 */
export function enterAction(job: GithubJobPlan, frame: ActionFrame, state: GithubJobState): EnteredAction {
  const known = state.actions[frame.caller];
  if (known) return known;
  const outer = frame.parent ? enterAction(job, frame.parent, state) : undefined;
  const callerScope = scopeOf(job, state, {}, frame.parent);
  const env: Record<string, string> = { ...outer?.env };
  for (const [k, v] of Object.entries(frame.callerEnv)) env[k] = fill(v, callerScope);
  const withEnv = scopeOf(job, state, env, frame.parent);
  const condition = frame.callerIf ?? 'success()';
  const skip = outer?.skip ?? (evaluateIf(condition, withEnv) ? undefined : `its action's step has if: ${condition}, which is false`);
  const inputs: Record<string, Value> = {};
  for (const name of new Set([...Object.keys(frame.defaults), ...Object.keys(frame.with)])) {
    inputs[name] = frame.with[name] !== undefined ? fill(frame.with[name]!, withEnv) : fill(frame.defaults[name] ?? '', withEnv);
  }
  const entered: EnteredAction = { ...(skip ? { skip } : {}), inputs, env };
  state.actions[frame.caller] = entered;
  return entered;
}

/**
 * After an action's last step: the calling step's record (its outputs from the action's
 * `outputs`, failed if a step of it failed), and so on outwards for actions that end with it.
 */
export function leaveAction(job: GithubJobPlan, frame: ActionFrame, state: GithubJobState): void {
  for (let f: ActionFrame | undefined = frame; f?.last; f = f.parent) {
    const entered = state.actions[f.caller];
    const inner = stepsIn(state, f.caller).map(([, r]) => r);
    const scope = scopeOf(job, state, {}, f);
    const outputs: Record<string, string> = {};
    for (const [k, v] of Object.entries(f.outputs)) {
      try {
        outputs[k] = fill(v, scope);
      } catch {
        outputs[k] = '';
      }
    }
    const outcome = entered?.skip || inner.every((r) => r.outcome === 'skipped') ? 'skipped' : inner.some((r) => r.outcome === 'failure') ? 'failure' : inner.some((r) => r.outcome === 'cancelled') ? 'cancelled' : 'success';
    const conclusion = outcome === 'failure' && !inner.some((r) => r.conclusion === 'failure') ? 'success' : outcome;
    state.steps[f.caller] = { outputs, outcome, conclusion };
  }
}

/** The job's `env` (the workflow's, then its own), filled in order, each seeing those before it. */
function jobEnv(job: GithubJobPlan, state: GithubJobState): Record<string, string> {
  const out: Record<string, string> = {};
  const partial: ExpressionScope = { contexts: { github: job.context ?? {}, inputs: inputsOf(job, state), matrix: job.matrix, strategy: job.strategy, secrets: secretsOf(job, state), vars: state.vars, needs: needsContext(job, state), env: out, runner: runnerContext() } };
  for (const [k, v] of Object.entries(job.env)) out[k] = fill(v, partial);
  return out;
}

export type PreparedGithubStep =
  | { skip: string }
  | {
      /** The step's script, for the job container's /bin/sh (or the step image's, for docker://). */
      script?: string;
      command?: string[];
      environment: Record<string, string>;
      workingDir: string;
      /** Log lines to show before it runs (what a native action did). */
      say?: string[];
      /**
       * For a step in a container of its own: a script for the job container, run after it,
       * that hands back what it wrote to its files (the marker lines a wrapped script prints).
       */
      collect?: string;
    };

/**
 * What one step runs, or why it does not. `base` is the step's compiled environment (the
 * runner's GITHUB_* variables); the job's env, $GITHUB_ENV and the step's own env go over it.
 */
export function prepareStep(job: GithubJobPlan, step: GithubStepPlan, state: GithubJobState, base: Record<string, string>, workspace: string, index: number): PreparedGithubStep {
  const frame = step.action;
  const entered = frame ? enterAction(job, frame, state) : undefined;
  if (entered?.skip) return { skip: entered.skip };
  const pre = scopeOf(job, state, {}, frame);
  const condition = step.if ?? 'success()';
  if (!evaluateIf(condition, pre)) return { skip: `its if: ${condition} is false` };
  // The step's own env sees the job's contexts; then everything else sees the step's env too.
  const stepEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(step.env)) stepEnv[k] = fill(v, pre);
  const scope = scopeOf(job, state, stepEnv, frame);
  const inputs = Object.fromEntries(Object.entries(step.with).map(([k, v]) => [k, fill(v, scope)]));
  const actionEnv = frame ? { ...entered!.env, GITHUB_ACTION_PATH: actionPath(job, frame) } : {};
  const environment = { ...base, ...jobEnv(job, state), ...state.env, ...actionEnv, ...stepEnv, ...inputVariables(inputs), ...fileVariables(index) };
  const dir = step.workingDirectory ?? job.defaults.workingDirectory;
  const workingDir = dir ? posix.resolve(workspace, fill(dir, scope)) : workspace;
  switch (step.kind) {
    case 'run':
      if (step.dockerAction) return { ...dockerActionRun(step.dockerAction, inputs, scope, environment, workspace), collect: reportFiles(state, index) };
      if (step.uses) return { command: splitArgs(inputs.args ?? ''), environment, workingDir, collect: reportFiles(state, index) };
      return { script: wrapScript(fill(step.run ?? '', scope), step.shell ?? job.defaults.shell, state, index, workingDir), environment, workingDir };
    case 'checkout':
      return { script: wrapScript(checkoutScript(inputs, workspace), 'sh', state, index, workspace), environment, workingDir: workspace };
    case 'cache':
      return { script: wrapScript(`echo "Cache not found for input keys: ${shellQuoted(inputs.key ?? '')}"\necho "cache-hit=false" >> "$GITHUB_OUTPUT"`, 'sh', state, index, workspace), environment, workingDir: workspace };
    case 'upload-artifact':
    case 'download-artifact':
      return { script: wrapScript(artifactScript(step.kind, inputs), 'sh', state, index, workspace), environment, workingDir: workspace };
    case 'unavailable':
      return { skip: step.unavailable ?? `${step.uses} is not run here` };
  }
}

/** A Docker action's container: its args and env from action.yml over its inputs, in the workspace. */
function dockerActionRun(action: NonNullable<GithubStepPlan['dockerAction']>, inputs: Record<string, string>, scope: ExpressionScope, environment: Record<string, string>, workspace: string): { command: string[]; environment: Record<string, string>; workingDir: string } {
  const withInputs: ExpressionScope = { ...scope, contexts: { ...scope.contexts, inputs } };
  const env = Object.fromEntries(Object.entries(action.env).map(([k, v]) => [k, fill(v, withInputs)]));
  return { command: action.args.map((a) => fill(a, withInputs)), environment: { ...environment, ...env }, workingDir: workspace };
}

/** `with:` inputs as an action gets them: INPUT_NAME, upper case, spaces as _. */
function inputVariables(inputs: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(inputs).map(([k, v]) => [`INPUT_${k.replace(/ /g, '_').toUpperCase()}`, v]));
}

function fileVariables(index: number): Record<string, string> {
  const at = (f: FileName) => `${FILES_DIR}/${f}_${index}`;
  return { GITHUB_ENV: at('env'), GITHUB_OUTPUT: at('output'), GITHUB_PATH: at('path'), GITHUB_STEP_SUMMARY: at('summary'), GITHUB_STATE: at('state') };
}

/**
 * GitHub's shells on Linux: `bash` is `bash --noprofile --norc -eo pipefail {0}`, `sh` is
 * `sh -e {0}`, `python` runs the file, anything else is a command with `{0}` for the file;
 * with no shell named, bash -e where the image has bash, else sh -e.
 */
export function shellCommand(shell: string | undefined, file: string): string {
  const q = shellQuoted(file);
  switch (shell?.trim()) {
    case undefined:
    case '':
      return `if command -v bash >/dev/null 2>&1; then bash -e ${q}; else sh -e ${q}; fi`;
    case 'bash':
      return `bash --noprofile --norc -eo pipefail ${q}`;
    case 'sh':
      return `sh -e ${q}`;
    case 'python':
      return `if command -v python >/dev/null 2>&1; then python ${q}; else python3 ${q}; fi`;
    case 'pwsh':
    case 'powershell':
      return `pwsh -command ". '${file}'"`;
    case 'cmd':
      return `echo 'shell: cmd is Windows only' >&2; exit 2`;
    default: {
      const custom = shell!;
      return custom.includes('{0}') ? custom.replaceAll('{0}', q) : `${custom} ${q}`;
    }
  }
}

function extensionOf(shell: string | undefined): string {
  return shell?.trim() === 'python' ? '.py' : shell?.trim() === 'pwsh' ? '.ps1' : '.sh';
}

/**
 * The step's script written to a file and run by its shell, in its directory, with the
 * directories of $GITHUB_PATH first; then each of its files printed in a marker line.
 */
function wrapScript(script: string, shell: string | undefined, state: GithubJobState, index: number, workingDir: string): string {
  const delimiter = `NESTOR_SCRIPT_${state.nonce}`;
  const file = `${FILES_DIR}/step_${index}${extensionOf(shell)}`;
  const path = state.path.length ? `export PATH=${shellQuoted(state.path.join(':'))}:"$PATH"\n` : '';
  const report = reportFiles(state, index);
  return [
    `mkdir -p ${FILES_DIR} /github/runner_temp && for f in ${FILES.map((f) => `${f}_${index}`).join(' ')}; do : > "${FILES_DIR}/$f"; done`,
    `cat > ${file} <<'${delimiter}'`,
    script,
    delimiter,
    `${path}cd ${shellQuoted(workingDir)} || exit 1`,
    `(${shellCommand(shell, file)})`,
    'rc=$?',
    report,
    'exit $rc',
  ].join('\n');
}

/** Each of step `index`'s files printed as a marker line, for the runner to read back. */
function reportFiles(state: GithubJobState, index: number): string {
  return FILES.filter((f) => f !== 'state').map((f) => `printf '%s' '::nestor-${state.nonce}::${f}::'; [ -f "${FILES_DIR}/${f}_${index}" ] && base64 < "${FILES_DIR}/${f}_${index}" | tr -d '\\n'; echo`).join('\n');
}

/** The run's source is in the workspace already; `path:` moves it to a folder of it, `ref:` checks that out. */
function checkoutScript(inputs: Record<string, string>, workspace: string): string {
  const lines = [`echo "Checked out the run's source into ${workspace}${inputs.path ? `/${inputs.path}` : ''}"`];
  if (inputs.path && inputs.path !== '.') {
    const target = shellQuoted(inputs.path);
    lines.push(`mkdir -p ${target}`, `for f in * .[!.]* ..?*; do [ -e "$f" ] || continue; [ "$f" = ${target} ] && continue; case ${target} in "$f"/*) continue;; esac; mv "$f" ${target}/; done`);
  }
  if (inputs.ref) lines.push(`if [ -d ${inputs.path ? `${shellQuoted(inputs.path)}/` : ''}.git ]; then git -C ${shellQuoted(inputs.path || '.')} checkout -q ${shellQuoted(inputs.ref)} || exit 1; else echo "ref ${inputs.ref}: the run's source has no Git history here, so its own commit is what the job has"; fi`);
  return lines.join('\n');
}

/**
 * Artifacts between the jobs of one run: an upload copies its paths under the workspace's
 * .nestor-artifacts/NAME, which the job keeps (its plan's artifact rule); a download finds the
 * same folder in its workspace (handed down from the jobs it needs) and copies it to `path`.
 */
function artifactScript(kind: 'upload-artifact' | 'download-artifact', inputs: Record<string, string>): string {
  const name = shellQuoted(inputs.name || 'artifact');
  if (kind === 'upload-artifact') {
    const paths = (inputs.path ?? '').split('\n').map((p) => p.trim()).filter((p) => p && !p.startsWith('!'));
    const missing = inputs['if-no-files-found'] === 'error' ? 'exit 1' : 'true';
    return [
      `dest=.nestor-artifacts/${name}; rm -rf "$dest"; mkdir -p "$dest"; found=0`,
      ...paths.map((p) => `for f in ${p.replace(/[^A-Za-z0-9_./*?-]/g, '')}; do [ -e "$f" ] || continue; found=1; if [ -d "$f" ]; then cp -R "$f"/. "$dest"/; else cp "$f" "$dest"/; fi; done`),
      `if [ $found = 0 ]; then echo "No files were found with the provided path: ${paths.join(', ')}. No artifacts will be uploaded."; ${missing}; else echo "Artifact ${inputs.name || 'artifact'} kept for the jobs after this one"; fi`,
    ].join('\n');
  }
  const target = shellQuoted(inputs.path || '.');
  return inputs.name
    ? `src=.nestor-artifacts/${name}; [ -d "$src" ] || { echo "Artifact not found: ${inputs.name} (no job this one needs uploaded it)" >&2; exit 1; }; mkdir -p ${target}; cp -R "$src"/. ${target}/; echo "Artifact ${inputs.name} downloaded to ${inputs.path || '.'}"`
    : `[ -d .nestor-artifacts ] || { echo "No artifacts were handed to this job" >&2; exit 1; }; for d in .nestor-artifacts/*/; do n=$(basename "$d"); mkdir -p ${target}/"$n"; cp -R "$d". ${target}/"$n"/; done; echo "Artifacts downloaded to ${inputs.path || '.'}"`;
}

/** A workflow command a step printed, or the runner's own marker line. */
export type StepLine =
  | { kind: 'files'; file: Exclude<FileName, 'state'>; content: string }
  | { kind: 'mask'; value: string }
  | { kind: 'output'; name: string; value: string }
  | { kind: 'env'; name: string; value: string }
  | { kind: 'path'; value: string }
  | { kind: 'group'; title: string }
  | { kind: 'endgroup' }
  | { kind: 'annotation'; level: 'error' | 'warning' | 'notice' | 'debug'; message: string; where?: string }
  | { kind: 'stop'; token: string }
  | { kind: 'resume'; token: string };

/** Reads one line of a step's output as a workflow command (`::add-mask::x`), if it is one. */
export function stepLine(line: string, nonce: string): StepLine | undefined {
  if (!line.startsWith('::')) return undefined;
  const marker = `::nestor-${nonce}::`;
  if (line.startsWith(marker)) {
    const rest = line.slice(marker.length);
    const sep = rest.indexOf('::');
    const file = rest.slice(0, sep) as Exclude<FileName, 'state'>;
    return { kind: 'files', file, content: Buffer.from(rest.slice(sep + 2), 'base64').toString('utf8') };
  }
  const m = /^::([a-z-]+)(?: ([^:]*))?::(.*)$/.exec(line);
  if (!m) return undefined;
  const [, command, props = '', value = ''] = m;
  const data = unescapeData(value);
  const prop = (name: string) => new RegExp(`(?:^|,)${name}=([^,]*)`).exec(props)?.[1];
  switch (command) {
    case 'add-mask':
      return { kind: 'mask', value: data };
    case 'set-output':
      return { kind: 'output', name: unescapeProperty(prop('name') ?? ''), value: data };
    case 'set-env':
      return { kind: 'env', name: unescapeProperty(prop('name') ?? ''), value: data };
    case 'add-path':
      return { kind: 'path', value: data };
    case 'group':
      return { kind: 'group', title: data };
    case 'endgroup':
      return { kind: 'endgroup' };
    case 'error':
    case 'warning':
    case 'notice':
    case 'debug': {
      const file = prop('file');
      const at = file ? `${unescapeProperty(file)}${prop('line') ? `:${prop('line')}` : ''}${prop('col') ? `:${prop('col')}` : ''}` : undefined;
      return { kind: 'annotation', level: command, message: data, ...(at ? { where: at } : {}) };
    }
    case 'stop-commands':
      return { kind: 'stop', token: data };
    default:
      return undefined;
  }
}

function unescapeData(s: string): string {
  return s.replace(/%0D/gi, '\r').replace(/%0A/gi, '\n').replace(/%25/g, '%');
}

function unescapeProperty(s: string): string {
  return unescapeData(s).replace(/%3A/gi, ':').replace(/%2C/gi, ',');
}

/** $GITHUB_OUTPUT and $GITHUB_ENV: `NAME=value` lines, or `NAME<<DELIMITER` … `DELIMITER`. */
export function parseFileCommands(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!.replace(/\r$/, '');
    if (!line.trim()) continue;
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line);
    const eq = line.indexOf('=');
    if (heredoc && (eq < 0 || eq > line.indexOf('<<'))) {
      const [, name, delimiter] = heredoc;
      const body: string[] = [];
      for (i++; i < lines.length && lines[i]!.replace(/\r$/, '') !== delimiter; i++) body.push(lines[i]!.replace(/\r$/, ''));
      out[name!] = body.join('\n');
    } else if (eq > 0) {
      out[line.slice(0, eq)] = line.slice(eq + 1);
    }
  }
  return out;
}

/** What a step's files say, into the job's state: its outputs, the variables and paths for later steps, its summary. */
export function takeFiles(state: GithubJobState, file: Exclude<FileName, 'state'>, content: string, outputs: Record<string, string>): void {
  if (file === 'output') Object.assign(outputs, parseFileCommands(content));
  else if (file === 'env') Object.assign(state.env, parseFileCommands(content));
  else if (file === 'path') state.path.unshift(...content.split('\n').map((l) => l.trim()).filter(Boolean).reverse());
  else if (file === 'summary' && content.trim()) state.summaries.push(content);
}

/** The job's `outputs`, once its steps have ended. */
export function jobOutputs(job: GithubJobPlan, state: GithubJobState): Record<string, string> {
  const scope = scopeOf(job, state);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(job.outputs)) {
    try {
      out[k] = fill(v, scope);
    } catch {
      out[k] = '';
    }
  }
  return out;
}

/** Whether the job runs, by its `if:` against how the jobs it needs ended. */
export function jobRuns(job: GithubJobPlan, needs: Record<string, NeededJob>, secrets: Record<string, string>): boolean {
  return jobNotRunBecause(job, needs, secrets) === undefined;
}

/** Why the job does not run: the `if:` of a job that calls it (its workflow), or its own; undefined: it runs. */
export function jobNotRunBecause(job: GithubJobPlan, needs: Record<string, NeededJob>, secrets: Record<string, string>): string | undefined {
  const called = job.call ? callNotRunBecause(job, needs, {}) : undefined;
  if (called !== undefined || job.if === undefined) return called;
  const state = newJobState('', secrets, needs);
  state.failed = statusOf(needsIn(needs, job.call)).failed;
  return evaluateIf(job.if, scopeOf(job, state)) ? undefined : `its if: ${job.if} is false`;
}

/**
 * The `needs` context: the jobs this one needs, by id. A job of a called workflow is given its
 * caller's needs too (for the caller's if: and with:), which are not its own.
 */
function needsContext(job: GithubJobPlan, state: GithubJobState): Record<string, Value> {
  const own = job.call ? needsIn(state.needs, job.call) : state.needs;
  return Object.fromEntries(Object.entries(own).map(([k, v]) => [k, { result: v.result, outputs: v.outputs }]));
}

/** The `inputs` context: the workflow's inputs, a called workflow's from its caller's `with:`. */
function inputsOf(job: GithubJobPlan, state: GithubJobState): Record<string, Value> {
  return job.call ? callInputs(job, job.call, state.needs, state.vars) : (job.inputs ?? {});
}

/** The `secrets` context: the run's, or those a called workflow's caller passes on. */
function secretsOf(job: GithubJobPlan, state: GithubJobState): Record<string, string> {
  return job.call ? callSecrets(job, job.call, state.needs, state.secrets, state.vars) : state.secrets;
}

export function shellQuoted(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

function splitArgs(text: string): string[] {
  return [...text.matchAll(/"([^"]*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
}
