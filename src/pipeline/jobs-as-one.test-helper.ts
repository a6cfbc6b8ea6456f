import type { JobPlan, PlanStep } from './plan.ts';

/**
 * For tests of a format's reading: the jobs a `jobPerStep` file (GitLab's) compiles to, seen
 * again as the steps of one plan, each step with the jobs it waits for as `dependsOn` and its
 * job's `runWhen` as `runOn`, every job's services and notices together. What the split itself
 * makes (one job per step, its services, artifacts) is tested in jobs-of-steps.test.ts.
 */
export function asOneJob(plans: JobPlan[]): JobPlan[] {
  if (!plans.length || !plans.every((p) => p.pipeline === 'gitlab' && p.steps.length === 1)) return plans;
  const runOn = (p: JobPlan): PlanStep['runOn'] => (p.runWhen === 'always' ? ['success', 'failure'] : p.runWhen === 'on_failure' ? ['failure'] : ['success']);
  const services = [...new Map(plans.flatMap((p) => p.services).map((s) => [s.name, s])).values()];
  return [
    {
      ...plans[0]!,
      name: 'gitlab',
      steps: plans.map((p) => ({ ...p.steps[0]!, dependsOn: p.after?.map((a) => a.job) ?? [], runOn: runOn(p) })),
      services,
      images: [...new Set(plans.flatMap((p) => p.images))],
      notices: plans.flatMap((p) => p.notices),
    },
  ];
}
