import { ownerLabels } from './ownership.ts';

/**
 * Every Docker object Nestor creates carries these labels so that it can always be found
 * again, by Nestor after a crash or by `docker ps --filter label=dev.nestor.managed`.
 */
export const LABEL_MANAGED = 'dev.nestor.managed';
/** What the object is: engine, network, storage, registry, image, probe. */
export const LABEL_ROLE = 'dev.nestor.role';
/** The nested engine an object belongs to. */
export const LABEL_ENGINE = 'dev.nestor.engine';
/** The instance id of the process that owns a throw-away object (ownership.ts); absent on persistent ones. */
export const LABEL_OWNER = 'dev.nestor.owner';
/** Set on engines created by `nestor engine start NAME`: they outlive the CLI process. */
export const LABEL_PERSISTENT = 'dev.nestor.persistent';
/** The isolation an engine actually runs with, after any fall-back. */
export const LABEL_ISOLATION = 'dev.nestor.isolation';
/** The options a named engine was started with, so `engine restart` can repeat them. */
export const LABEL_OPTIONS = 'dev.nestor.options';
export const LABEL_CREATED = 'dev.nestor.created';

export type Role = 'engine' | 'network' | 'storage' | 'registry' | 'image' | 'probe' | 'step' | 'service' | 'workspace' | 'function' | 'build';
/** The function (NAMESPACE/PATH) a function container serves. */
export const LABEL_FUNCTION = 'dev.nestor.function';
/** The job an object was made for. */
export const LABEL_JOB = 'dev.nestor.job';

/**
 * The labels of an object Nestor makes. Throw-away objects name their owning process, so that
 * a crash leaves nothing that cannot be told apart and removed; persistent ones (the shared
 * registry, named engines) and images (whose labels every container made from them inherits)
 * belong to no process.
 */
export function nestorLabels(role: Role, extra: Record<string, string> = {}): Record<string, string> {
  const owned = role !== 'image' && extra[LABEL_PERSISTENT] !== 'true';
  return {
    [LABEL_MANAGED]: 'true',
    [LABEL_ROLE]: role,
    [LABEL_CREATED]: new Date().toISOString(),
    ...(owned ? ownerLabels() : {}),
    ...extra,
  };
}

/** The filter Docker's list endpoints take, matching every object Nestor made. */
export function managedFilter(extra: string[] = []): { label: string[] } {
  return { label: [`${LABEL_MANAGED}=true`, ...extra] };
}
