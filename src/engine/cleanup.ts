import type Docker from 'dockerode';
import { forgetOwner, ownerAlive } from './ownership.ts';
import { LABEL_MANAGED, LABEL_OWNER, LABEL_PERSISTENT, LABEL_ENGINE } from './labels.ts';

export interface Removed {
  containers: string[];
  networks: string[];
  volumes: string[];
}

/**
 * Removes every container, network and volume matching all `labels` (`key=value` or `key`),
 * in the order Docker requires: containers first (with their anonymous volumes), then the
 * networks and volumes they held. Already-gone objects are not errors: two cleaners may race.
 */
export async function removeLabelled(docker: Docker, labels: string[], dryRun = false): Promise<Removed> {
  const filters = JSON.stringify({ label: labels });
  const removed: Removed = { containers: [], networks: [], volumes: [] };
  const containers = await docker.listContainers({ all: true, filters });
  await Promise.all(
    containers.map(async (c) => {
      if (!dryRun) await ignoreGone(docker.getContainer(c.Id).remove({ force: true, v: true }));
      removed.containers.push(c.Names[0]?.replace(/^\//, '') ?? c.Id);
    }),
  );
  const networks = await docker.listNetworks({ filters });
  await Promise.all(
    networks.map(async (n) => {
      if (!dryRun) {
        // Shared containers (the image registry) may still be attached; a network in use cannot go.
        const inspected = (await docker.getNetwork(n.Id).inspect().catch(() => undefined)) as { Containers?: Record<string, unknown> } | undefined;
        const attached = Object.keys(inspected?.Containers ?? {});
        await Promise.all(attached.map((id) => ignoreGone(docker.getNetwork(n.Id).disconnect({ Container: id, Force: true }))));
        await ignoreGone(docker.getNetwork(n.Id).remove());
      }
      removed.networks.push(n.Name);
    }),
  );
  const { Volumes } = await docker.listVolumes({ filters });
  await Promise.all(
    (Volumes ?? []).map(async (v) => {
      if (!dryRun) await ignoreGone(docker.getVolume(v.Name).remove());
      removed.volumes.push(v.Name);
    }),
  );
  return removed;
}

async function ignoreGone(p: Promise<unknown>): Promise<void> {
  try {
    await p;
  } catch (err) {
    const status = (err as { statusCode?: number }).statusCode;
    if (status === 404 || status === 409) return; // gone already, or removal already in progress
    throw err;
  }
}

/**
 * Finds the engines whose owning process died (kill -9, OOM, power loss) and removes them with
 * everything they held. With `all`, named engines from `nestor engine start` go too.
 */
export async function cleanupOrphans(docker: Docker, opts: { all?: boolean; dryRun?: boolean } = {}): Promise<Removed> {
  const total: Removed = { containers: [], networks: [], volumes: [] };
  const add = (r: Removed) => {
    total.containers.push(...r.containers);
    total.networks.push(...r.networks);
    total.volumes.push(...r.volumes);
  };
  if (opts.all) {
    add(await removeLabelled(docker, [`${LABEL_MANAGED}=true`], opts.dryRun));
    return total;
  }
  const engines = new Set<string>();
  const candidates = [
    ...(await docker.listContainers({ all: true, filters: JSON.stringify({ label: [LABEL_MANAGED, LABEL_ENGINE] }) })).map((c) => c.Labels),
    ...(await docker.listNetworks({ filters: JSON.stringify({ label: [LABEL_MANAGED, LABEL_ENGINE] }) })).map((n) => n.Labels ?? {}),
    ...((await docker.listVolumes({ filters: JSON.stringify({ label: [LABEL_MANAGED, LABEL_ENGINE] }) })).Volumes ?? []).map(
      (v) => v.Labels ?? {},
    ),
  ];
  const deadOwners = new Set<string>();
  for (const labels of candidates) {
    if (labels[LABEL_PERSISTENT] === 'true') continue;
    const owner = labels[LABEL_OWNER];
    if (owner && ownerAlive(owner, labels)) continue;
    if (owner) deadOwners.add(owner);
    const engine = labels[LABEL_ENGINE];
    if (engine) engines.add(engine);
  }
  for (const engine of engines) add(await removeLabelled(docker, [`${LABEL_MANAGED}=true`, `${LABEL_ENGINE}=${engine}`], opts.dryRun));
  // Containers a process made directly on this engine (function instances), not inside a nested one.
  const direct = await docker.listContainers({ all: true, filters: JSON.stringify({ label: [LABEL_MANAGED, LABEL_OWNER] }) });
  for (const c of direct) {
    if (c.Labels[LABEL_ENGINE] || c.Labels[LABEL_PERSISTENT] === 'true' || ownerAlive(c.Labels[LABEL_OWNER]!, c.Labels)) continue;
    deadOwners.add(c.Labels[LABEL_OWNER]!);
    if (!opts.dryRun) await ignoreGone(docker.getContainer(c.Id).remove({ force: true, v: true }));
    total.containers.push(c.Names[0]?.replace(/^\//, '') ?? c.Id);
  }
  if (!opts.dryRun) for (const owner of deadOwners) forgetOwner(owner);
  return total;
}
