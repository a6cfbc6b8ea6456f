import type { Logger } from 'pino';
import { NestorError, errorMessage } from '../errors.ts';
import type { FunctionGateway } from '../functions/gateway.ts';
import type { AppRecord, Deployment, DeployedFunction, GitopsStore } from './store.ts';
import { targetOf } from './app-record.ts';
import type { TargetClients } from './targets.ts';

export interface DeployerOptions {
  store: GitopsStore;
  gateway: FunctionGateway;
  targets: TargetClients;
  logger: Logger;
}

/**
 * Deploying: what this server's gateway serves. Puts a deployment's images behind the
 * gateway (in the engine each application's functions run in), follows deployments and
 * rollbacks made by other servers sharing the store, and stops serving what was removed.
 */
export class Deployer {
  private readonly opts: DeployerOptions;
  /** The deployment this server's gateway serves per application, to follow other servers' changes. */
  private readonly serving = new Map<string, number>();
  /** When to try again to serve a deployment that could not be activated. */
  private readonly followRetryAt = new Map<string, number>();

  constructor(opts: DeployerOptions) {
    this.opts = opts;
  }

  /** Records that deployment `seq` serves for the application now. */
  served(app: { namespace: string; name: string }, seq: number): void {
    this.serving.set(`${app.namespace}/${app.name}`, seq);
  }

  forget(app: { namespace: string; name: string }): void {
    this.serving.delete(`${app.namespace}/${app.name}`);
  }

  /** At start: every application's current deployment serves again. */
  async restore(apps: AppRecord[]): Promise<void> {
    for (const app of apps) {
      if (app.currentDeployment === null) continue;
      const d = await this.opts.store.deployment(app.namespace, app.name, app.currentDeployment);
      if (!d) continue;
      await this.activate(app, d.functions)
        .then(() => this.served(app, d.seq))
        .catch((err: unknown) => this.opts.logger.error({ err, app: `${app.namespace}/${app.name}` }, 'could not restore the deployed functions'));
    }
  }

  /** Applications removed (perhaps through another server) stop being served here. */
  async unserveRemoved(apps: AppRecord[]): Promise<void> {
    const known = new Set(apps.map((a) => `${a.namespace}/${a.name}`));
    for (const served of this.opts.gateway.list()) {
      if (!known.has(`${served.namespace}/${served.app}`)) await this.opts.gateway.undeploy(served.namespace, served.path);
    }
  }

  /** Serves what the store says is current, when another server deployed or rolled back. */
  async follow(app: AppRecord): Promise<void> {
    const key = `${app.namespace}/${app.name}`;
    if (app.currentDeployment === null || this.serving.get(key) === app.currentDeployment) return;
    if ((this.followRetryAt.get(key) ?? 0) > Date.now()) return;
    const d = await this.opts.store.deployment(app.namespace, app.name, app.currentDeployment);
    if (!d) return;
    try {
      await this.activate(app, d.functions);
      this.served(app, d.seq);
      this.followRetryAt.delete(key);
    } catch (err) {
      this.followRetryAt.set(key, Date.now() + 30_000);
      this.opts.logger.warn({ err, app: key, seq: d.seq }, 'could not serve the current deployment; trying again in 30 s');
    }
  }

  /**
   * Puts a deployment's images behind the gateway and takes away functions it no longer has.
   * Answers what the build log should say about how the functions are limited.
   */
  async activate(app: AppRecord, functions: DeployedFunction[]): Promise<string | undefined> {
    const deployTarget = targetOf(app);
    const target = await this.opts.targets.client(app, deployTarget);
    // The application's own engine is sized before its instances start: with no per-instance
    // cgroups (rootless on cgroup v1) its limits are the functions' limits.
    const notice = deployTarget
      ? undefined
      : await this.opts.targets.local.resize(app, {
          memoryMb: functions.reduce((sum, fn) => sum + fn.spec.memoryMb * Math.max(fn.spec.concurrency, fn.spec.warm), 0),
          cpus: functions.reduce((sum, fn) => sum + fn.spec.cpus * fn.spec.concurrency, 0),
        });
    await Promise.all(
      functions.map((fn) => this.opts.gateway.deploy({ namespace: app.namespace, path: fn.path, app: app.name, image: fn.image, docker: target.docker, settings: fn.spec })),
    );
    const keep = new Set(functions.map((f) => f.path));
    for (const served of this.opts.gateway.list()) {
      if (served.namespace === app.namespace && served.app === app.name && !keep.has(served.path)) await this.opts.gateway.undeploy(app.namespace, served.path);
    }
    return notice;
  }

  /** Serves deployment `seq` of `app` again, recorded as a new deployment. */
  async rollback(app: AppRecord, seq: number): Promise<Deployment> {
    const { namespace, name } = app;
    const key = `${namespace}/${name}`;
    const to = await this.opts.store.deployment(namespace, name, seq);
    if (!to) throw new NestorError('NESTOR_DEPLOYMENT_NOT_FOUND', `${namespace}/${name} has no deployment ${seq}`, 'See the numbers with `nestor apps history`.');
    if (to.status !== 'deployed' || !to.functions.length) throw new NestorError('NESTOR_ROLLBACK_REFUSED', `Deployment ${seq} of ${namespace}/${name} is ${to.status}${to.functions.length ? '' : ' with no functions'}; only a deployment that was deployed can serve again`, 'Pick a deployed one from `nestor apps history`.');
    for (const fn of to.functions) {
      if (await this.opts.store.isPruned(fn.image)) throw new NestorError('NESTOR_IMAGE_PRUNED', `The image ${fn.image} of deployment ${seq} was pruned by retention (keepImages)`, 'Roll back to a newer deployment, or raise spec.keepImages in nestor.yaml to keep more images.');
    }
    const d = await this.opts.store.startDeployment({ namespace, app: name, commit: to.commit, message: to.message, cause: 'rollback', functions: to.functions, rollbackOf: seq });
    try {
      await this.activate(app, to.functions);
    } catch (err) {
      await this.opts.store.finishDeployment(namespace, name, d.seq, { status: 'failed', error: errorMessage(err) });
      throw err;
    }
    await this.opts.store.appendBuildLog(namespace, name, d.seq, `[nestor] rollback to deployment ${seq} (${to.commit.slice(0, 12)}); nothing built\n`);
    await this.opts.store.finishDeployment(namespace, name, d.seq, { status: 'deployed' });
    await this.opts.store.setCurrent(namespace, name, d.seq);
    this.served(app, d.seq);
    this.opts.logger.info({ app: key, to: seq, seq: d.seq }, 'rolled back');
    return (await this.opts.store.deployment(namespace, name, d.seq))!;
  }
}
