import type { JobSpec, ServiceSpec, StepSpec } from '../backend/backend.ts';
import { imagePullOf } from '../pipeline/image-pull.ts';
import type { JobPlan, PlanContainer, PlanService, PlanStep } from '../pipeline/plan.ts';

/** A plan's step as a backend sees it: its container, without the graph. */
export function stepSpecOf(step: PlanStep, hidden: string[] = []): StepSpec {
  const { dependsOn: _d, runOn: _r, timeoutMs: _t, ignoreFailure: _i, notRunBecause: _n, ...container } = step;
  return withoutVariables(container, hidden);
}

function serviceSpecOf(service: PlanService, hidden: string[]): ServiceSpec {
  return withoutVariables(service, hidden);
}

/**
 * Variables that hold the job's pull credentials (GitLab's DOCKER_AUTH_CONFIG, written in the
 * file or given with --env) are the pulls' alone: no container gets them.
 */
function withoutVariables<C extends PlanContainer>(c: C, hidden: string[]): C {
  if (!hidden.some((name) => name in c.environment)) return c;
  return { ...c, environment: Object.fromEntries(Object.entries(c.environment).filter(([k]) => !hidden.includes(k))) };
}

/** The job as its backend is told it: every container that may run, and none of the order. */
export function jobSpecOf(plan: JobPlan): { spec: JobSpec; steps: Map<string, StepSpec> } {
  const hidden = imagePullOf(plan).filter((p) => p.variable).map((p) => p.name);
  const steps = new Map(plan.steps.filter((s) => s.notRunBecause === undefined).map((s) => [s.name, stepSpecOf(s, hidden)]));
  return {
    spec: {
      name: plan.name,
      workspace: plan.workspace,
      steps: [...steps.values()],
      services: plan.services.map((s) => serviceSpecOf(s, hidden)),
      volumes: plan.volumes,
      images: plan.images,
      engineAliases: plan.engineAliases,
      ...(plan.plainEngine ? { plainEngine: plan.plainEngine } : {}),
    },
    steps,
  };
}
