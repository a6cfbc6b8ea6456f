import type { Job, Runner } from './store/store.ts';

/**
 * Why a queued job is not taken, said where people look (the pipeline's page, `nestor
 * pipelines show`): no runner at all, none online, none that may take it (another runner is
 * named), or none with every label it asks for. Undefined when some online runner could take
 * it: it then waits only for a free slot.
 */
export function queuedReason(job: Pick<Job, 'status' | 'labels' | 'targetRunner'>, runners: Runner[], now: number, offlineMs: number): string | undefined {
  if (job.status !== 'queued') return undefined;
  if (!runners.length) return 'no runner is registered: start one with `nestor runner --server URL --token REGISTRATION_TOKEN`';
  const online = runners.filter((r) => now - r.lastSeen < offlineMs);
  if (!online.length) return `no runner is online (${runners.length} registered, none seen for ${Math.round(offlineMs / 1000)} s)`;
  const candidates = job.targetRunner ? online.filter((r) => r.name === job.targetRunner) : online;
  if (!candidates.length) return `runner ${job.targetRunner}, which the job is for, is not online`;
  const offers = (r: Runner) => new Set([...r.labels, ...r.capabilities]);
  if (candidates.some((r) => job.labels.every((l) => offers(r).has(l)))) return undefined;
  // Name the labels no online runner offers, or, when each is offered somewhere, all of them.
  const missing = job.labels.filter((l) => !candidates.some((r) => offers(r).has(l)));
  return `no runner has the labels ${(missing.length ? missing : job.labels).join(', ')}${missing.length ? '' : ' all at once'}`;
}
