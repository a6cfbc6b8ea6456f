import type { JobSpec, ServiceSpec, StepSpec } from '../backend/backend.ts';
import type { JobPlan, PlanService, PlanStep } from '../pipeline/plan.ts';

/** A plan's step as a backend sees it: its container, without the graph. */
export function stepSpecOf(step: PlanStep): StepSpec {
  const { dependsOn: _d, runOn: _r, timeoutMs: _t, ignoreFailure: _i, notRunBecause: _n, statusEnvironment: _s, ...container } = step;
  return container;
}

function serviceSpecOf(service: PlanService): ServiceSpec {
  return service;
}

/** The job as its backend is told it: every container that may run, and none of the order. */
export function jobSpecOf(plan: JobPlan): { spec: JobSpec; steps: Map<string, StepSpec> } {
  // GitLab's DOCKER_AUTH_CONFIG, a variable of the job, stays one, as GitLab gives it to the
  // job (files copy it to ~/.docker/config.json to push); its passwords are masked in the logs.
  const steps = new Map(plan.steps.filter((s) => s.notRunBecause === undefined).map((s) => [s.name, stepSpecOf(s)]));
  return {
    spec: {
      name: plan.name,
      workspace: plan.workspace,
      steps: [...steps.values()],
      services: plan.services.map(serviceSpecOf),
      volumes: plan.volumes,
      ...(plan.volumeFolders?.length ? { volumeFolders: plan.volumeFolders } : {}),
      images: plan.images,
      engineAliases: plan.engineAliases,
      ...(plan.plainEngine ? { plainEngine: plan.plainEngine } : {}),
    },
    steps,
  };
}
