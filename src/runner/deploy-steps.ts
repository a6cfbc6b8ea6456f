import { NestorError } from '../errors.ts';
import type { JobPlan } from '../pipeline/plan.ts';
import { openDeployGateway, type DeployGateway, type LeasedTarget } from './deploy-gateway.ts';

/** Where a step finds its deploy target's client certificate (its DOCKER_CERT_PATH): never the workspace. */
export const DEPLOY_CERTS_ROOT = '/run/nestor/deploy';

/** What a lease says of the deploy targets its job's steps name. */
export interface LeasedTargets {
  deploy_targets?: Record<string, LeasedTarget>;
  deploy_refused?: { name: string; why: string }[];
}

class DeployTargetRefusedError extends NestorError {
  constructor(step: string, name: string, why: string) {
    super('NESTOR_DEPLOY_TARGET_REFUSED', `step ${step} deploys to ${name}, which this job is not given: ${why}`, `The server's admin decides who reaches a deploy target (nestor targets add ${name} URL --repo OWNER/NAME --branch BRANCH); \`nestor targets list\` shows who may.`);
  }
}

/**
 * Opens a gateway (deploy-gateway.ts) for each deploy target the job's steps that will run name,
 * on `listenHost`, an address of this host its engine reaches. A target the job may not have
 * fails the job before any step runs, saying why.
 */
export async function openJobTargets(plans: JobPlan[], leased: LeasedTargets, listenHost: string | undefined, notice: (text: string) => void): Promise<DeployGateway[]> {
  const steps = plans.flatMap((p) => p.steps.filter((s) => s.deployTarget && !s.notRunBecause));
  if (!steps.length) return [];
  for (const s of steps) {
    const refused = leased.deploy_refused?.find((r) => r.name === s.deployTarget);
    if (refused) throw new DeployTargetRefusedError(s.name, refused.name, refused.why);
    if (!leased.deploy_targets?.[s.deployTarget!]) throw new DeployTargetRefusedError(s.name, s.deployTarget!, 'the server gave it no such target (a job submitted on its own, not a repository\'s pipeline, reaches none)');
  }
  if (!listenHost) throw new NestorError('NESTOR_DEPLOY_NO_GATEWAY', 'This runner has no address its jobs\' engines reach, for the way to a deploy target', 'Run the runner with its image supply (the default): its network\'s gateway is that address.');
  const gateways: DeployGateway[] = [];
  try {
    for (const name of new Set(steps.map((s) => s.deployTarget!))) gateways.push(await openDeployGateway(name, leased.deploy_targets![name]!, listenHost, notice));
  } catch (err) {
    await closeAll(gateways);
    throw err;
  }
  return gateways;
}

export async function closeAll(gateways: DeployGateway[]): Promise<void> {
  await Promise.allSettled(gateways.map((g) => g.close()));
}

/**
 * The plans with each step that names a deploy target pointed at it: DOCKER_HOST, TLS on, and
 * its client certificate in a read-only volume of the job's (copied into its engine, never in
 * the workspace). These win over the file's own DOCKER_* variables: the step asked for the target.
 */
export function withDeployTargets(plans: JobPlan[], gateways: DeployGateway[]): JobPlan[] {
  if (!gateways.length) return plans;
  const byName = new Map(gateways.map((g) => [g.name, g]));
  return plans.map((plan) => {
    const used = [...new Set(plan.steps.flatMap((s) => (s.deployTarget && byName.has(s.deployTarget) ? [s.deployTarget] : [])))];
    if (!used.length) return plan;
    const volume = (name: string) => `nestor-deploy-${name}`;
    return {
      ...plan,
      volumes: [...new Set([...plan.volumes, ...used.map(volume)])],
      volumeFolders: [...(plan.volumeFolders ?? []), ...used.map((name) => ({ volume: volume(name), dir: byName.get(name)!.clientDir, into: '.' }))],
      steps: plan.steps.map((s) => {
        const g = s.deployTarget ? byName.get(s.deployTarget) : undefined;
        if (!g) return s;
        const certs = `${DEPLOY_CERTS_ROOT}/${g.name}`;
        return {
          ...s,
          environment: { ...s.environment, DOCKER_HOST: g.dockerHost, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certs },
          mounts: [...s.mounts, { kind: 'volume' as const, name: volume(g.name), target: certs, readOnly: true }],
        };
      }),
    };
  });
}
