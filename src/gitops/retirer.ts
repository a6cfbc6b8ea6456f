import type { Logger } from 'pino';
import type { FunctionGateway } from '../functions/gateway.ts';
import type { AppRecord, DeployedFunction, GitopsStore } from './store.ts';
import type { FunctionBuilder } from './builder.ts';
import { targetOf } from './app-record.ts';
import type { TargetClients } from './targets.ts';

export interface RetirerOptions {
  store: GitopsStore;
  gateway: FunctionGateway;
  targets: TargetClients;
  builder: FunctionBuilder;
  logger: Logger;
}

/**
 * Retiring: what goes. Images past an application's retention, and everything of an
 * application that is removed: its instances, its images (in its engine and the registry),
 * and its own engine.
 */
export class Retirer {
  private readonly opts: RetirerOptions;

  constructor(opts: RetirerOptions) {
    this.opts = opts;
  }

  /** Takes the application's functions out of service and removes what Nestor made for it. */
  async retire(app: AppRecord): Promise<void> {
    const { namespace, name } = app;
    if (app.currentDeployment !== null) {
      const d = await this.opts.store.deployment(namespace, name, app.currentDeployment);
      for (const fn of d?.functions ?? []) await this.opts.gateway.undeploy(namespace, fn.path);
    }
    // Its images go too: nothing Nestor built for an application outlives it. Without a deploy
    // target they are in the application's own engine, which goes with them.
    const deployTarget = targetOf(app);
    const target = deployTarget ? await this.opts.targets.client(app, deployTarget).catch(() => undefined) : undefined;
    for (const image of await this.opts.store.appImages(namespace, name)) {
      await target?.docker.getImage(image).remove().catch(() => undefined);
      await this.opts.builder.removeFromRegistry(image).catch(() => false);
    }
    if (!deployTarget) await this.opts.targets.local.retire(app);
  }

  /** Keeps the newest `keep` images of each function (and whatever serves now); removes the rest. */
  async prune(app: AppRecord, keep: number, serving: DeployedFunction[]): Promise<void> {
    const target = await this.opts.targets.client(app, targetOf(app));
    const inUse = new Set(serving.map((f) => f.image));
    // Instances of replaced deployments may still be going; their images cannot go before them.
    await this.opts.gateway.settled();
    for (const fn of serving) {
      const live = await this.opts.store.liveImages(app.namespace, app.name, fn.path);
      for (const image of live.slice(keep)) {
        if (inUse.has(image)) continue;
        const removed = await target.docker.getImage(image).remove().then(
          () => true,
          (err: { statusCode?: number; message?: string }) => {
            if (err.statusCode === 404) return true;
            this.opts.logger.warn({ image, err: err.message }, 'image kept for now; retention tries again after the next deployment');
            return false;
          },
        );
        if (!removed) continue;
        await this.opts.builder.removeFromRegistry(image).catch(() => false);
        await this.opts.store.markPruned(image);
        this.opts.logger.info({ app: `${app.namespace}/${app.name}`, image }, 'image pruned (retention)');
      }
    }
  }
}
