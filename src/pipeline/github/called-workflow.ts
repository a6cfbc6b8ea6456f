import { evaluateIf, toText, type ExpressionScope, type Value } from './expression.ts';
import type { GithubJobPlan, WorkflowCall } from './job-plan.ts';
import type { NeededJob } from './step-runtime.ts';
import { fill, fillValue } from './templates.ts';

/**
 * A job of a reusable workflow as it runs (formats/github-reusable.ts reads the call): its
 * inputs, its secrets and whether it runs at all come from the job that calls it, which only
 * the run can finish where they read the caller's `needs`. So a called job is given its own
 * needs and its caller's together, each keyed by the namespace that names it (`ID` in the
 * run's workflow, `CALLER / ID` in a called one): neither workflow sees the other's, as on GitHub.
 */

const JOB_ID = /^[A-Za-z_][A-Za-z0-9_-]*/;

/** The namespace of the jobs a job of `call` (or of the run's workflow) needs: `CALLER / `, or ''. */
export function namespaceOf(call: WorkflowCall | undefined): string {
  return call ? `${call.caller} / ` : '';
}

/** The `needs` context of a job of `call` (or of the run's workflow): the needs of its namespace, by id. */
export function needsIn(needs: Readonly<Record<string, NeededJob>>, call: WorkflowCall | undefined): Record<string, NeededJob> {
  const prefix = namespaceOf(call);
  const out: Record<string, NeededJob> = {};
  for (const [key, need] of Object.entries(needs)) {
    const id = key.startsWith(prefix) ? key.slice(prefix.length) : '';
    if (JOB_ID.exec(id)?.[0] === id) out[id] = need;
  }
  return out;
}

/** How success() and failure() of an `if:` read those needs. */
export function statusOf(needs: Readonly<Record<string, NeededJob>>): { failed: boolean; cancelled: boolean } {
  return { failed: Object.values(needs).some((n) => n.result === 'failure' || n.result === 'cancelled'), cancelled: false };
}

/** The inputs of the workflow `call` runs: those known when it was read, and the late ones filled now. */
export function callInputs(job: GithubJobPlan, call: WorkflowCall, needs: Readonly<Record<string, NeededJob>>, vars: Record<string, string>): Record<string, Value> {
  const late = Object.entries(call.late);
  if (late.length === 0) return call.inputs;
  const scope = callerScope(job, call, needs, {}, vars);
  const out = { ...call.inputs };
  for (const [name, { template, type }] of late) out[name] = typed(fillValue(template, scope), type);
  return out;
}

/** The secrets a job sees: the run's, passed on (or inherited) through each call around it, outermost first. */
export function callSecrets(job: GithubJobPlan, call: WorkflowCall | undefined, needs: Readonly<Record<string, NeededJob>>, secrets: Record<string, string>, vars: Record<string, string>): Record<string, string> {
  if (!call) return secrets;
  const outer = callSecrets(job, call.parent, needs, secrets, vars);
  if (call.secrets === 'inherit') return outer;
  const scope = callerScope(job, call, needs, outer, vars);
  return Object.fromEntries(Object.entries(call.secrets).map(([name, template]) => [name, fill(template, scope)]));
}

/**
 * Why the calls around a job do not run it, outermost first: a caller's `if:` over the caller's
 * own needs (success() of them when it has none). Undefined: every caller runs it.
 */
export function callNotRunBecause(job: GithubJobPlan, needs: Readonly<Record<string, NeededJob>>, vars: Record<string, string>): string | undefined {
  const calls: WorkflowCall[] = [];
  for (let c = job.call; c; c = c.parent) calls.unshift(c);
  for (const c of calls) {
    if (evaluateIf(c.if ?? 'success()', callerScope(job, c, needs, {}, vars))) continue;
    return c.if !== undefined ? `its caller ${c.caller} has if: ${c.if}, which is false` : `its caller ${c.caller} needs a job that did not succeed`;
  }
  return undefined;
}

/** What the caller's own expressions see (its `with:`, `secrets:` and `if:`): its workflow's contexts. */
function callerScope(job: GithubJobPlan, call: WorkflowCall, needs: Readonly<Record<string, NeededJob>>, secrets: Record<string, string>, vars: Record<string, string>): ExpressionScope {
  const own = needsIn(needs, call.parent);
  const mine = Object.fromEntries(call.needs.flatMap((id) => (own[id] ? [[id, own[id]]] : [])));
  return {
    contexts: {
      github: job.context ?? {},
      needs: Object.fromEntries(Object.entries(mine).map(([k, v]) => [k, { result: v.result, outputs: v.outputs }])),
      inputs: call.parent ? callInputs(job, call.parent, needs, vars) : (call.callerInputs ?? {}),
      matrix: call.matrix,
      secrets: { GITHUB_TOKEN: '', ...secrets },
      vars,
    },
    status: statusOf(mine),
  };
}

/** A late input as its declared type makes it: GitHub passes `true` and `3` to boolean and number inputs, text to string ones. */
function typed(value: Value, type: 'string' | 'boolean' | 'number'): Value {
  if (type === 'boolean') return value === true || value === 'true';
  if (type === 'number') return typeof value === 'number' ? value : Number(toText(value));
  return typeof value === 'string' ? value : toText(value);
}

/** A plan as `needs` reads it, and how it ended, if it has. */
export interface NeedSource {
  name: string;
  pipeline: string;
  github?: GithubJobPlan;
}
export type EndedAs = (plan: NeedSource) => { status: string; outputs?: Record<string, string> } | undefined;

/**
 * `needs.ID` where `name` is ID in its namespace: the job's combinations as one (failed if any
 * failed, outputs of the last to set each); for a job that calls a reusable workflow, every job
 * it runs as one, and the called workflow's `outputs` over its jobs (`jobs.ID.outputs.NAME`).
 */
export function neededJob(name: string, plans: readonly NeedSource[], endedAs: EndedAs): NeededJob {
  const called = plans.filter((p) => callsAround(p).some((c) => c.job === name));
  const answered = (called.length ? called : plans.filter((p) => p.pipeline === name)).map(endedAs).filter((r) => r !== undefined);
  const result = resultOf(answered.map((r) => r.status));
  if (!called.length) return { result, outputs: Object.assign({}, ...answered.map((r) => r.outputs ?? {})) };
  const outputs: Record<string, string> = {};
  // A caller with a matrix calls once per combination: the last to set an output gives it.
  const calls = [...new Map(called.flatMap((p) => callsAround(p).filter((c) => c.job === name)).map((c) => [c.caller, c])).values()];
  for (const call of calls) {
    const prefix = `${call.caller} / `;
    const ids = [...new Set(called.flatMap((p) => (p.pipeline.startsWith(prefix) ? [JOB_ID.exec(p.pipeline.slice(prefix.length))?.[0] ?? ''] : [])))];
    const jobs = Object.fromEntries(ids.map((id) => [id, neededJob(prefix + id, plans, endedAs)] as const));
    const scope: ExpressionScope = { contexts: { jobs: Object.fromEntries(Object.entries(jobs).map(([k, v]) => [k, { result: v.result, outputs: v.outputs }])) } };
    for (const [key, template] of Object.entries(call.outputs)) {
      try {
        outputs[key] = fill(template, scope);
      } catch {
        outputs[key] = '';
      }
    }
  }
  return { result, outputs };
}

function callsAround(plan: NeedSource): WorkflowCall[] {
  const out: WorkflowCall[] = [];
  for (let c = plan.github?.call; c; c = c.parent) out.push(c);
  return out;
}

function resultOf(statuses: string[]): NeededJob['result'] {
  if (statuses.includes('failure')) return 'failure';
  if (statuses.includes('cancelled')) return 'cancelled';
  return statuses.length && statuses.every((s) => s === 'skipped') ? 'skipped' : 'success';
}
