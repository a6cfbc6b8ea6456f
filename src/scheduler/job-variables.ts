import type { JobPlan, PlanContainer } from '../pipeline/plan.ts';

/**
 * Secrets every container of a job has as variables of the same name: the run's variables
 * that are secret (the job token and what carries it), and, for a GitLab job, every secret
 * of the run, as GitLab gives a project's CI/CD variables to each job and service (over what
 * the file sets: GitLab ranks project variables above the file's). Each stays a secret:
 * its value is masked in every line. `variables` are plain ones (where the job's server is),
 * set only where the file sets no variable of that name.
 */
export function withSecretVariables(plan: JobPlan, secrets: Record<string, string>, always: string[], variables: Record<string, string> = {}): JobPlan {
  // A pull secret given to the run (GitLab's DOCKER_AUTH_CONFIG) is for the pulls, never a container's.
  const pulls = new Set(plan.steps.flatMap((s) => s.recorded?.imagePull ?? []).map((p) => p.name));
  const asVariables = plan.secretsAsVariables ? Object.keys(secrets).filter((n) => !pulls.has(n)) : [];
  const names = [...new Set([...always, ...asVariables])].filter((n) => secrets[n] !== undefined);
  if (!names.length && !Object.keys(variables).length) return plan;
  const add = <C extends PlanContainer>(c: C): C => {
    const listed = new Set(c.secrets.map((s) => s.env));
    const extra = names.filter((n) => !listed.has(n)).map((n) => ({ name: n, env: n }));
    // The file's own variable of a secret's name gives way, as the secret is what the job is
    // given; plain variables only fill in what the file does not set.
    const environment = { ...variables, ...Object.fromEntries(Object.entries(c.environment).filter(([k]) => !extra.some((e) => e.env === k))) };
    return { ...c, environment, secrets: [...c.secrets, ...extra] };
  };
  return { ...plan, steps: plan.steps.map(add), services: plan.services.map(add) };
}
