import type { RegistryAuth } from '../backend/backend.ts';
import { NestorError } from '../errors.ts';
import { imagePullOf } from '../pipeline/image-pull.ts';
import type { JobPlan } from '../pipeline/plan.ts';
import { DockerConfigInvalidError, parseDockerConfig, type RegistryCredential } from '../secrets/docker-config.ts';

/** A pull secret that is given but unusable: the job fails before its engine starts, naming it, never quoting it. */
export class PullSecretInvalidError extends NestorError {
  constructor(from: string, why: string) {
    super(
      'NESTOR_PULL_SECRET_INVALID',
      `The ${from}, which the job's images are pulled with, is not a usable Docker config.json: ${why}`,
      'Give it the text of a ~/.docker/config.json: "auths" with one entry per registry (host[:port], as in the image name), each holding "auth" (base64 of user:password) or "username" and "password"; credential helpers are not read.',
    );
  }
}

export interface PullAuth {
  /** For the backend: each config the job names, with its credentials when the run gave it. */
  auth: RegistryAuth[];
  /** Configs that came from the job's variables, not its secrets: masked like secrets all the same. */
  revealed: string[];
  /** For the job's log: which credentials the pulls use, and which were not given. */
  notices: string[];
}

/**
 * The plan's pull credentials (`imagePull`) resolved for one run, as the secrets steps use are:
 * by name among the run's secrets; for GitLab's DOCKER_AUTH_CONFIG, a variable of the job
 * when there is no such secret. One not given is said and the pulls go without it (a refused
 * pull then says it was missing); one given but unusable throws.
 */
export function pullAuthOf(plan: Pick<JobPlan, 'steps' | 'services'>, secrets: Record<string, string>): PullAuth {
  const out: PullAuth = { auth: [], revealed: [], notices: [] };
  for (const p of imagePullOf(plan)) {
    const secret = secrets[p.name];
    const variable = secret === undefined && p.variable ? variableOf(plan, p.name) : undefined;
    const text = secret ?? variable;
    if (text === undefined) {
      out.auth.push({ name: p.name, from: `${p.variable ? 'secret or variable' : 'secret'} ${p.name}`, given: false, credentials: [] });
      if (!p.optional) out.notices.push(`image_pull_secrets: the secret ${p.name} was not given to this run; images are pulled without its credentials`);
      continue;
    }
    const from = `${secret === undefined ? 'variable' : 'secret'} ${p.name}`;
    if (variable !== undefined) out.revealed.push(variable);
    const credentials = parsed(from, text);
    out.auth.push({ name: p.name, from, given: true, credentials });
    out.notices.push(`images are pulled with the registry credentials in the ${from} (for ${[...new Set(credentials.map((c) => c.registry))].join(', ')})`);
  }
  return out;
}

function parsed(from: string, text: string): RegistryCredential[] {
  try {
    return parseDockerConfig(text);
  } catch (err) {
    if (err instanceof DockerConfigInvalidError) throw new PullSecretInvalidError(from, err.why);
    throw err;
  }
}

/** The job's own value of a variable (a GitLab job is one step); an empty one is none. */
function variableOf(plan: Pick<JobPlan, 'steps' | 'services'>, name: string): string | undefined {
  for (const c of [...plan.steps, ...plan.services]) {
    const v = c.environment[name];
    if (v) return v;
  }
  return undefined;
}
