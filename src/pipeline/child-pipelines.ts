import type { PipelineNotice } from './errors.ts';
import type { JobPlan } from './plan.ts';

/**
 * GitLab's child pipelines from a local file (`trigger: include: ci/child.yml`) run as part of
 * the run: the trigger job stands for the child's jobs, which start when it would have started
 * (after what it waits for) and are named `TRIGGER > JOB`. With `strategy: depend` the jobs
 * that wait for the trigger job wait for the whole child pipeline, as they wait for its
 * status on GitLab; without it the trigger job is done once the child is created, so they
 * wait only for what the trigger job waited for.
 */

/** Compiles a child pipeline's file into its job plans; undefined when the file is not there to read. */
export type ChildLoader = (file: string) => JobPlan[] | undefined;

/** GitLab allows two levels of child pipelines below the parent. */
const MAX_DEPTH = 2;

export function withChildPipelines(plans: JobPlan[], load: ChildLoader, depth = 0): JobPlan[] {
  const triggers = plans.filter((p) => childFileOf(p) !== undefined);
  if (!triggers.length) return plans;
  let out = plans;
  for (const trigger of triggers) {
    const step = trigger.steps[0]!;
    const file = childFileOf(trigger)!;
    const loaded = depth < MAX_DEPTH ? load(file) : undefined;
    if (!loaded?.length) continue;
    const children = withChildPipelines(loaded, load, depth + 1);
    const renamed = new Map(children.map((c) => [c.name, `${trigger.name} > ${c.name}`]));
    const waitsFor = trigger.after ?? [];
    // What the reader said of the trigger ("recorded, not run") is replaced by what happens.
    const notRun = (n: PipelineNotice) => n.code === 'NESTOR_CHILD_PIPELINE_NOT_RUN' && n.message.startsWith(`job ${trigger.name} triggers`);
    const was = out.flatMap((p) => p.notices).find(notRun);
    const said: PipelineNotice = { ...(was ?? { file, line: 1, column: 1, key: `${trigger.name}.trigger` }), code: 'NESTOR_CHILD_PIPELINE', severity: 'info', message: `job ${trigger.name} runs the child pipeline ${file}: its ${children.length} job(s) are jobs of this run, named "${trigger.name} > JOB"` };
    out = out.map((p) => (p.notices.some(notRun) ? { ...p, notices: p.notices.filter((n) => !notRun(n)) } : p));
    const childJobs = children.map((c): JobPlan => ({
      ...c,
      name: renamed.get(c.name)!,
      pipeline: trigger.pipeline,
      // A child job that waits for nothing of its own starts when the trigger job would have.
      after: c.after?.length ? c.after.map((a) => ({ ...a, job: renamed.get(a.job) ?? a.job })) : waitsFor,
      ...(c.artifactsFrom ? { artifactsFrom: c.artifactsFrom.map((n) => renamed.get(n) ?? n) } : {}),
      runnerLabels: [...new Set([...(trigger.runnerLabels ?? []), ...(c.runnerLabels ?? [])])].filter(Boolean),
      notices: c === children[0] ? [said, ...c.notices] : c.notices,
    }));
    const depend = step.recorded?.trigger?.strategy === 'depend';
    const ends = childJobs.filter((c) => !childJobs.some((o) => o.after?.some((a) => a.job === c.name))).map((c) => ({ job: c.name }));
    const instead = depend ? ends : waitsFor;
    out = out.flatMap((p) => {
      if (p.name === trigger.name) return childJobs.map((c) => (c.runnerLabels?.length ? c : withoutLabels(c)));
      if (!p.after?.some((a) => a.job === trigger.name)) return [p];
      const after = p.after.flatMap((a) => (a.job === trigger.name ? instead : [a]));
      return [{ ...p, after: after.filter((a, i) => after.findIndex((b) => b.job === a.job) === i) }];
    });
  }
  return out;
}

function withoutLabels(plan: JobPlan): JobPlan {
  const { runnerLabels: _none, ...rest } = plan;
  return rest;
}

/** The one local file a trigger job's child pipeline is read from, when it is that simple. */
function childFileOf(plan: JobPlan): string | undefined {
  if (plan.steps.length !== 1) return undefined;
  const trigger = plan.steps[0]!.recorded?.trigger;
  if (!trigger || !('include' in trigger) || trigger.include?.length !== 1) return undefined;
  const file = trigger.include[0]!;
  return file.startsWith('{') ? undefined : file.replace(/^\/+/, '');
}
