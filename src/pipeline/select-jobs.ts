import { NestorError } from '../errors.ts';
import type { JobPlan } from './plan.ts';
import { didYouMean } from './suggest.ts';

/**
 * `nestor run --job NAME`: the jobs named (by job name, by pipeline name for all of its matrix
 * jobs, or by the name of a job that calls a reusable workflow for all it runs) and every job
 * they wait for, in the file's order. Naming `gitlab` runs every job of a GitLab file.
 */
export function selectJobs(plans: JobPlan[], names: string[]): JobPlan[] {
  if (!names.length) return plans;
  // A GitHub job that calls a reusable workflow is named for every job it runs (`build / test`).
  const callers = (p: JobPlan) => {
    const out: string[] = [];
    for (let c = p.github?.call; c; c = c.parent) out.push(c.job);
    return out;
  };
  const known = [...new Set(plans.flatMap((p) => [p.name, p.pipeline, ...callers(p)]))];
  const unknown = names.filter((n) => !known.includes(n));
  if (unknown.length) {
    throw new NestorError('NESTOR_USAGE_UNKNOWN_JOB', unknown.map((n) => `--job ${n}: there is no such job${didYouMean(n, known)}`).join('; '), `The jobs here: ${known.join(', ')}. \`nestor plan\` lists them with their steps.`);
  }
  const pipelines = new Set<string>();
  const add = (pipeline: string) => {
    if (pipelines.has(pipeline)) return;
    pipelines.add(pipeline);
    for (const p of plans.filter((x) => x.pipeline === pipeline)) for (const need of p.needs ?? []) add(need);
  };
  const chosen = new Set<string>();
  const byName = new Map(plans.map((p) => [p.name, p]));
  const choose = (p: JobPlan) => {
    if (chosen.has(p.name)) return;
    chosen.add(p.name);
    for (const need of p.needs ?? []) add(need);
    // GitLab's jobs wait for jobs, not pipelines: the earlier stages, or their needs.
    for (const a of p.after ?? []) if (byName.has(a.job)) choose(byName.get(a.job)!);
  };
  for (const n of names) for (const p of plans) if (p.name === n || p.pipeline === n || callers(p).includes(n)) choose(p);
  return plans.filter((p) => chosen.has(p.name) || pipelines.has(p.pipeline));
}
