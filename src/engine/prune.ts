import type Docker from 'dockerode';
import { LABEL_MANAGED, LABEL_PERSISTENT } from './labels.ts';
import { imagesToPrune } from './prune-plan.ts';

export interface PruneOptions {
  olderThanMs: number;
  keep: number;
  dryRun: boolean;
  /** Also objects Nestor did not make. Off by default: prune never touches the user's things. */
  all: boolean;
}

export interface PruneReport {
  containers: string[];
  networks: string[];
  volumes: string[];
  images: string[];
  skipped: { what: string; why: string }[];
}

/**
 * Removes Nestor's stopped containers, unused networks and volumes, and images older than the
 * cut-off beyond the newest `keep` per repository. Persistent objects (named engines' storage,
 * the shared registry) stay.
 */
export async function prune(docker: Docker, opts: PruneOptions): Promise<PruneReport> {
  const label = opts.all ? {} : { label: [`${LABEL_MANAGED}=true`] };
  const report: PruneReport = { containers: [], networks: [], volumes: [], images: [], skipped: [] };
  const nowMs = Date.now();
  const persistent = (labels: Record<string, string> | undefined) => labels?.[LABEL_PERSISTENT] === 'true';
  const attempt = async (what: string, list: string[], remove: () => Promise<unknown>) => {
    try {
      if (!opts.dryRun) await remove();
      list.push(what);
    } catch (err) {
      report.skipped.push({ what, why: (err as { json?: { message?: string } }).json?.message ?? (err as Error).message });
    }
  };

  const stopped = await docker.listContainers({ all: true, filters: JSON.stringify({ ...label, status: ['exited', 'created', 'dead'] }) });
  for (const c of stopped) {
    if (persistent(c.Labels) || nowMs - c.Created * 1000 < opts.olderThanMs) continue;
    await attempt(c.Names[0]?.slice(1) ?? c.Id, report.containers, () => docker.getContainer(c.Id).remove({ v: true }));
  }

  const networks = await docker.listNetworks({ filters: JSON.stringify(label) });
  for (const n of networks) {
    if (['bridge', 'host', 'none'].includes(n.Name) || persistent(n.Labels)) continue;
    const details = await docker.getNetwork(n.Id).inspect();
    if (Object.keys(details.Containers ?? {}).length) continue;
    await attempt(n.Name, report.networks, () => docker.getNetwork(n.Id).remove());
  }

  const { Volumes } = await docker.listVolumes({ filters: JSON.stringify({ ...label, dangling: ['true'] }) });
  for (const v of Volumes ?? []) {
    if (persistent(v.Labels ?? undefined)) continue;
    await attempt(v.Name, report.volumes, () => docker.getVolume(v.Name).remove());
  }

  const images = await docker.listImages({ filters: JSON.stringify(label) });
  const doomed = imagesToPrune(
    images.map((i) => ({ id: i.Id, repoTags: i.RepoTags ?? [], createdMs: i.Created * 1000 })),
    { nowMs, olderThanMs: opts.olderThanMs, keep: opts.keep },
  );
  for (const img of doomed) {
    await attempt(img.repoTags.find((t) => t !== '<none>:<none>') ?? img.id, report.images, () => docker.getImage(img.id).remove({ force: false }));
  }
  return report;
}
