import { PipelineError, type PipelineProblem } from './errors.ts';
import type { ImagePull } from './model.ts';
import type { JobPlan } from './plan.ts';

export type { ImagePull };

/**
 * The registry credentials a job's pulls use, once each: the formats record them on each step
 * (`recorded.imagePull`: Drone's pipeline-wide `image_pull_secrets` on every step, GitLab's
 * DOCKER_AUTH_CONFIG on each job's one step), and they hold for the services' images too.
 */
export function imagePullOf(plan: Pick<JobPlan, 'steps'>): ImagePull[] {
  const byName = new Map<string, ImagePull>();
  for (const s of plan.steps) for (const p of s.recorded?.imagePull ?? []) if (!byName.has(p.name)) byName.set(p.name, p);
  return [...byName.values()];
}

/**
 * `nestor run`'s check before any engine starts, as for a secret a step uses: each secret a
 * job that runs names for its pulls (not one that is only implied) must be given. On a runner,
 * a secret not given is said at run time instead, and the pulls go without it.
 */
export function checkPullSecrets(plans: JobPlan[], given: string[]): void {
  const problems: PipelineProblem[] = [];
  for (const plan of plans) {
    if (plan.steps.every((s) => s.notRunBecause !== undefined)) continue;
    for (const p of imagePullOf(plan)) {
      if (p.optional || given.includes(p.name) || !p.at) continue;
      problems.push({ position: p.at, message: `pipeline ${plan.pipeline} pulls its images with the registry credentials in the secret "${p.name}" (image_pull_secrets), which was not given (nestor run --secret ${p.name}=VALUE, its value a Docker config.json)` });
    }
  }
  if (problems.length) throw new PipelineError(problems);
}
