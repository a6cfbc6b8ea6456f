import type { PipelineNotice, PipelineProblem } from '../errors.ts';
import { namespaceOf } from '../github/called-workflow.ts';
import { GITHUB_WORKSPACE, githubContext } from '../github/contexts.ts';
import { ExpressionError, toText, type ExpressionScope, type Value } from '../github/expression.ts';
import type { WorkflowCall, WorkflowTriggers } from '../github/job-plan.ts';
import { fillKnown, fillValue, ifExpression, namesStatus, readsRunState } from '../github/templates.ts';
import type { Condition, PipelineConfig } from '../model.ts';
import { didYouMean } from '../suggest.ts';
import { check } from '../validate.ts';
import type { RunFacts } from '../when.ts';
import type { PathSegment, YamlSource } from '../yaml-source.ts';
import { calledFile, type WorkflowHome } from './github-called-file.ts';
import type { Combination } from './github-matrix.ts';
import { workflowSchema, type GithubJob, type Workflow } from './github-schema.ts';
import { checkExpression, checkTemplateAt, listOf, runsAfter, staticIf } from './github-static.ts';
import { readTriggers } from './github-triggers.ts';
import { unreadable } from './items.ts';

/**
 * A job that calls a reusable workflow (`uses:` in place of steps), expanded as GitHub runs it:
 * each job of the called workflow is a job of the run, `CALLER / JOB` (for each combination of
 * the caller's matrix), its inputs the caller's `with:` over the inputs' defaults, typed as the
 * workflow declares them, its secrets the caller's `secrets:`, and the caller's `if:` and
 * `needs` ahead of its own. Later jobs that need the caller wait for every job it runs, and
 * `needs.CALLER.outputs` is the called workflow's `outputs` (github/called-workflow.ts).
 */

/** One workflow being read: the run's own, or one a job calls. */
export interface WorkflowContext {
  /** The run's workflow name (github.workflow): the calling workflow's, in a called one. */
  workflowName: string;
  /** The `inputs` context as far as it is known now. */
  inputs: Record<string, Value>;
  /** Inputs only the run knows (the caller's `with:` reads its `needs`). */
  late: string[];
  when: Condition[];
  /** The workflow's own findings, said with its first job. */
  problems: PipelineProblem[];
  call?: CallSite;
  /** The workflows around this one, outermost first, this one last: their identities (github-called-file.ts). */
  trail: string[];
  home: WorkflowHome;
}

/** A call of a workflow, as its jobs are read. */
export interface CallSite {
  plan: WorkflowCall;
  /** The calling job with its matrix values (`build (1)`), in its own workflow. */
  instance: string;
  /** Why none of its jobs run: a caller's `if:` that is false before the run. */
  skip?: string;
  /** The caller's `name:`, for the titles of the jobs it runs. */
  title?: string;
}

/** A job as read, before what it waits for in its own workflow is named by pipeline. */
export interface Placed {
  /** Its job id in the workflow being read (a called job's: its caller's). */
  job: string;
  config: PipelineConfig;
  source: YamlSource;
  waits: { name: string; at: PathSegment[] }[];
  /** It waits for no other job of that workflow. */
  root: boolean;
}

/** What formats/github.ts reads for a called workflow as it does for the run's. */
export interface WorkflowReader {
  readJobs(source: YamlSource, doc: Workflow, w: WorkflowContext): Placed[];
  matrixOf(source: YamlSource, job: GithubJob, at: PathSegment[], problems: PipelineProblem[], notices: PipelineNotice[]): Combination[];
  /** A called workflow's own keys said in notices (permissions, concurrency, run-name). */
  topLevel(source: YamlSource, doc: Workflow, notices: PipelineNotice[]): void;
}

export interface CallerJob {
  jobId: string;
  job: GithubJob;
  at: PathSegment[];
  /** What the job's own keys mean (permissions, concurrency). */
  notices: PipelineNotice[];
}

type Declared = NonNullable<WorkflowTriggers['call']>;
type InputType = 'string' | 'boolean' | 'number';

/** GitHub's keys of a job that calls a reusable workflow. */
const CALLER_KEYS = ['name', 'uses', 'with', 'secrets', 'needs', 'if', 'strategy', 'permissions', 'concurrency'];

export function callJob(source: YamlSource, facts: RunFacts, c: CallerJob, w: WorkflowContext, reader: WorkflowReader): Placed[] {
  const { job, at } = c;
  const uses = job.uses!;
  for (const key of Object.keys(job)) {
    if (!CALLER_KEYS.includes(key)) w.problems.push({ position: source.position(at, key), message: `job ${c.jobId} calls a reusable workflow, and such a job has no ${key}: its jobs are the called workflow's (it takes only ${CALLER_KEYS.join(', ')}); set ${key} there` });
  }
  const file = calledFile({ source, at, jobId: c.jobId, uses, trail: w.trail, home: w.home }, facts, w.problems, c.notices);
  if (!file) return unreadCall(source, c, w, []);
  const called = file.source;
  const own: PipelineProblem[] = [];
  const ownNotices: PipelineNotice[] = [];
  if (!called.value || typeof called.value !== 'object' || Array.isArray(called.value)) {
    own.push({ position: called.position([]), message: 'a workflow is a map with on: and jobs:' });
    return unreadCall(source, c, w, own);
  }
  const doc = check(called, workflowSchema, called.value, [], 'the workflow', own);
  if (!doc) return unreadCall(source, c, w, own);
  const declared = readTriggers(called, doc.on, own, ownNotices).triggers.call;
  if (!declared) {
    w.problems.push({ position: source.position(at, 'uses'), message: `${uses} is not a reusable workflow: its on: has no workflow_call (GitHub calls only those)` });
    return unreadCall(source, c, w, own);
  }
  reader.topLevel(called, doc, ownNotices);
  for (const [k, v] of Object.entries(declared.outputs)) checkTemplateAt(called, v.value, ['on', 'workflow_call', 'outputs', k], 'value', own);
  checkGiven(source, c, declared, w.problems);
  const callerIf = job.if !== undefined ? ifExpression(job.if) : undefined;
  if (callerIf !== undefined) checkExpression(source, callerIf, at, 'if', w.problems);
  const combos = reader.matrixOf(source, job, at, w.problems, c.notices);
  const placed = combos.flatMap((combo, index) => {
    const site = callSite(source, facts, c, w, declared, combo, { index, total: combos.length }, callerIf);
    const inner = reader.readJobs(called, doc, { workflowName: w.workflowName, inputs: site.plan.inputs, late: Object.keys(site.plan.late), when: w.when, problems: own, call: site, trail: [...w.trail, file.identity], home: file.home });
    return inner.map((p) => asCalled(p, site, c, callerIf));
  });
  if (placed.length === 0) return unreadCall(source, c, w, own, ownNotices);
  // The called workflow's own findings are said once, with its first job (each is at its place in its file).
  const first = placed[0]!;
  first.config = { ...first.config, problems: [...own, ...(first.config.problems ?? [])], notices: [...c.notices, ...ownNotices, ...(first.config.notices ?? [])] };
  return placed;
}

/**
 * A called job as the calling workflow sees it: named and titled under its caller; one that
 * waits for no job of its own workflow waits for the caller's needs, after the outcomes the
 * caller's `if:` allows.
 */
function asCalled(p: Placed, site: CallSite, c: CallerJob, callerIf: string | undefined): Placed {
  const rest = p.config.name.slice(namespaceOf(site.plan).length);
  const title = site.title !== undefined || p.config.title !== undefined ? { title: `${site.title ?? site.instance} / ${p.config.title ?? rest}` } : {};
  const needs = listOf(c.job.needs).map((name) => ({ name, at: p.config.at }));
  if (!p.root) {
    // A server gives a job the outcomes of the jobs it waits for: one that reads its caller's needs
    // as it runs waits for them too. Not after a caller's always(): its own needs decide then.
    const reads = site.plan.if !== undefined || Object.keys(site.plan.late).length > 0 || (typeof site.plan.secrets === 'object' && Object.values(site.plan.secrets).some(readsRunState));
    return { ...p, job: c.jobId, waits: reads && !namesStatus(callerIf ?? '') ? needs : [], config: { ...p.config, ...title } };
  }
  const { runsOn: _own, ...config } = p.config;
  void _own;
  return { job: c.jobId, source: p.source, root: needs.length === 0, waits: needs, config: { ...config, ...title, ...runsAfter(callerIf) } };
}

/** One call: the caller's `with:`, `secrets:` and `if:` for one combination of its matrix. */
function callSite(source: YamlSource, facts: RunFacts, c: CallerJob, w: WorkflowContext, declared: Declared, combo: Combination, place: { index: number; total: number }, callerIf: string | undefined): CallSite {
  const namespace = namespaceOf(w.call?.plan);
  const instance = matrixName(c.jobId, combo);
  const written = typeof c.job.strategy === 'object' ? c.job.strategy : undefined;
  const strategy = { 'fail-fast': typeof written?.['fail-fast'] === 'boolean' ? written['fail-fast'] : true, 'job-index': place.index, 'job-total': place.total, 'max-parallel': typeof written?.['max-parallel'] === 'number' ? written['max-parallel'] : place.total };
  const scope: ExpressionScope = { contexts: { github: githubContext(facts, { workflow: w.workflowName, job: c.jobId }), matrix: combo, strategy, inputs: staticInputs(w.inputs, w.late), vars: {} } };
  const { inputs, late } = givenInputs(source, c, declared, scope, w.late, w.problems);
  const decided = callerIf !== undefined && !readsRunState(callerIf) ? staticIf(callerIf, scope) : undefined;
  const skip = w.call?.skip ?? (decided === false ? `the calling job ${namespace}${instance} has if: ${callerIf}, which is false` : undefined);
  const plan: WorkflowCall = {
    job: namespace + c.jobId,
    caller: namespace + instance,
    uses: c.job.uses!,
    ...(callerIf !== undefined && decided === undefined ? { if: callerIf } : {}),
    needs: listOf(c.job.needs),
    inputs,
    late,
    matrix: combo,
    ...(w.call ? { parent: w.call.plan } : { callerInputs: w.inputs }),
    secrets: givenSecrets(source, c, declared, w.problems),
    outputs: Object.fromEntries(Object.entries(declared.outputs).map(([k, v]) => [k, v.value])),
  };
  // GitHub names a combination by its values unless the name itself reads the matrix.
  const title = c.job.name === undefined ? undefined : c.job.name.includes('${{') ? fillKnown(c.job.name, scope).trim() : matrixName(c.job.name, combo);
  return { plan, instance, ...(skip !== undefined ? { skip } : {}), ...(title ? { title } : {}) };
}

/** The caller's `with:` and `secrets:` against what the called workflow declares: each name known, each required one given. */
function checkGiven(source: YamlSource, c: CallerJob, declared: Declared, problems: PipelineProblem[]): void {
  const uses = c.job.uses!;
  const inputs = Object.keys(declared.inputs);
  for (const key of Object.keys(c.job.with ?? {})) {
    if (!inputs.includes(key)) problems.push({ position: source.position([...c.at, 'with'], key), message: `${uses} has no input "${key}"${didYouMean(key, inputs)}; its inputs: ${inputs.join(', ') || 'none'}` });
  }
  for (const [name, input] of Object.entries(declared.inputs)) {
    if (input.required && input.default === undefined && c.job.with?.[name] === undefined) problems.push({ position: source.position(c.at, 'uses'), message: `${uses} requires the input "${name}": give it under with:` });
  }
  if (c.job.secrets === 'inherit') return;
  const secrets = Object.keys(declared.secrets);
  for (const key of Object.keys(c.job.secrets ?? {})) {
    if (!secrets.includes(key)) problems.push({ position: source.position([...c.at, 'secrets'], key), message: `${uses} has no secret "${key}"${didYouMean(key, secrets)}; its secrets: ${secrets.join(', ') || 'none'}` });
  }
  for (const [name, secret] of Object.entries(declared.secrets)) {
    if (secret?.required && c.job.secrets?.[name] === undefined) problems.push({ position: source.position(c.at, c.job.secrets ? 'secrets' : 'uses'), message: `${uses} requires the secret "${name}": pass it under secrets: (${name}: \${{ secrets.NAME }}), or give it all with secrets: inherit` });
  }
}

/**
 * The called workflow's inputs: each given value (over the caller's matrix, github and inputs)
 * or the declared default, as its declared type; a value that reads the caller's `needs` is late,
 * left for the run.
 */
function givenInputs(source: YamlSource, c: CallerJob, declared: Declared, scope: ExpressionScope, outerLate: string[], problems: PipelineProblem[]): Pick<WorkflowCall, 'inputs' | 'late'> {
  const inputs: Record<string, Value> = {};
  const late: WorkflowCall['late'] = {};
  const at = [...c.at, 'with'];
  for (const [name, input] of Object.entries(declared.inputs)) {
    const type = input.type as InputType;
    const written = c.job.with?.[name];
    if (written === undefined) {
      inputs[name] = typed((input.default ?? emptyOf(type)) as Value, type) ?? emptyOf(type);
      continue;
    }
    let value: Value = written;
    if (typeof written === 'string' && written.includes('${{')) {
      if (!checkTemplateAt(source, written, at, name, problems)) continue;
      // A late input of the caller's own workflow is known no sooner than the caller's needs.
      if (readsRunState(written) || (outerLate.length > 0 && /\binputs\b/.test(written))) {
        late[name] = { template: written, type };
        continue;
      }
      try {
        value = fillValue(written, scope);
      } catch (err) {
        if (!(err instanceof ExpressionError)) throw err;
        problems.push({ position: source.position(at, name), message: err.message });
        continue;
      }
    }
    const given = typed(value ?? '', type);
    if (given === undefined) problems.push({ position: source.position(at, name), message: `input "${name}" of ${c.job.uses} is a ${type}: ${JSON.stringify(value)} is not one` });
    inputs[name] = given ?? emptyOf(type);
  }
  return { inputs, late };
}

/** The caller's `secrets:`: inherit, or each of the called workflow's secrets as a template over the caller's. */
function givenSecrets(source: YamlSource, c: CallerJob, declared: Declared, problems: PipelineProblem[]): WorkflowCall['secrets'] {
  const written = c.job.secrets;
  if (written === 'inherit') return 'inherit';
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(written ?? {})) {
    if (!(k in declared.secrets)) continue;
    out[k] = String(v);
    checkTemplateAt(source, out[k], [...c.at, 'secrets'], k, problems);
  }
  return out;
}

/** A value as an input of `type` takes it; undefined: it is not one. */
function typed(value: Value, type: InputType): Value | undefined {
  if (type === 'boolean') return typeof value === 'boolean' ? value : value === 'true' ? true : value === 'false' ? false : undefined;
  if (type === 'number') {
    const n = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
    return Number.isFinite(n) ? n : undefined;
  }
  return typeof value === 'string' ? value : toText(value);
}

/** What an input not given and without a default is: GitHub's empty value of its type. */
function emptyOf(type: InputType): Value {
  return type === 'boolean' ? false : type === 'number' ? 0 : '';
}

/**
 * The inputs a called workflow's expressions read before the run. A late one is not known yet,
 * so reading it fails: each reading answered before the run (a step's if:, its name) is then
 * left for the run, as one over `needs` is.
 */
export function staticInputs(inputs: Record<string, Value>, late: readonly string[]): Record<string, Value> {
  if (late.length === 0) return inputs;
  const out = { ...inputs };
  for (const name of late) {
    Object.defineProperty(out, name, {
      enumerable: true,
      get: () => {
        throw new Error(`inputs.${name} is given by the calling job from its needs, known only when the run starts`);
      },
    });
  }
  return out;
}

/** GitHub's name for a combination of a job's matrix: `build (1, linux)`. */
function matrixName(jobId: string, combo: Combination): string {
  const values = Object.values(combo).map((v) => (typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)));
  return values.length ? `${jobId} (${values.join(', ')})` : jobId;
}

/** A calling job whose workflow cannot be read: it stands as a job of no steps, for what needs it, and its problems are said. */
function unreadCall(source: YamlSource, c: CallerJob, w: WorkflowContext, problems: PipelineProblem[], notices: PipelineNotice[] = []): Placed[] {
  const name = namespaceOf(w.call?.plan) + c.jobId;
  const needs = listOf(c.job.needs);
  const config: PipelineConfig = { ...unreadable(source, 'github', GITHUB_WORKSPACE, problems), name, unread: [{ name: c.jobId, at: c.at }], at: c.at, when: w.when, notices: [...c.notices, ...notices] };
  return [{ job: c.jobId, config, source, root: needs.length === 0, waits: needs.map((n, i) => ({ name: n, at: Array.isArray(c.job.needs) ? [...c.at, 'needs', i] : [...c.at, 'needs'] })) }];
}
