import type Docker from 'dockerode';
import { createHash } from 'node:crypto';
import type { EngineClient } from '../engine-client.ts';
import { hostName, parseReference, splitTag } from '../images/reference.ts';

/**
 * Sharing image layers with a nested engine instead of copying them.
 *
 * A pull or a `docker load` makes the nested dockerd extract every layer again (about 2 s for
 * 100 MB here). When the host engine is local and uses overlay2, its layers already sit
 * extracted on disk. Before the nested dockerd starts, the sidecar bind-mounts those layer
 * directories read-only into its own store and copies the few kilobytes of metadata (image
 * config, layer chain records, tags) beside them, so the daemon starts with the images present.
 * Nested containers get their own writable layer on top, as for any image; the host's layer
 * directories can never be written from inside (read-only binds), and the sidecar unmounts its
 * view of the host's store before dockerd starts, so jobs see only the shared layers.
 */

export const HOST_IMAGE_DIR = '/nestor/host/image';
export const HOST_LAYER_DIR = '/nestor/host/overlay2';
export const SEED_DIR = '/nestor/seed';

export interface LayerSeed {
  /** Images present in the engine from its first second, by the references asked for. */
  images: string[];
  /** Binds for the sidecar: the host's image metadata and layer store, read-only. */
  mounts: Docker.MountSettings[];
  /** Files for the sidecar's seed directory, read by the entry script. */
  files: { name: string; content: string }[];
}

/** The layer chain IDs of an image's rootfs, base first (the OCI image spec's ChainID). */
export function chainIds(diffIds: string[]): string[] {
  const chains: string[] = [];
  for (const diff of diffIds) {
    const previous = chains.at(-1);
    chains.push(previous ? `sha256:${createHash('sha256').update(`${previous} ${diff}`).digest('hex')}` : diff);
  }
  return chains;
}

/** `repositories.json` as dockerd's reference store writes it: familiar repository → ref → id. */
export function repositoriesJson(tags: { reference: string; id: string }[]): string {
  const repos: Record<string, Record<string, string>> = {};
  for (const { reference, id } of tags) {
    const ref = parseReference(reference);
    if (ref.digest) continue; // present by ID; a digest reference needs no tag
    const familiar = hostName(ref);
    const [repo] = splitTag(familiar);
    (repos[repo] ??= {})[familiar] = id;
  }
  return JSON.stringify({ Repositories: repos });
}

/**
 * What to mount and write so that `images` (all present on the host) are in the new engine's
 * store at start (those the host has). Undefined when this host cannot share layers; callers
 * then pull instead.
 */
export async function planLayerSeed(host: EngineClient, images: string[], storageDriver?: string): Promise<LayerSeed | undefined> {
  if (images.length === 0 || host.endpoint.kind !== 'unix') return undefined;
  if (storageDriver && storageDriver !== 'overlay2') return undefined;
  const root = await overlayRootOf(host);
  if (!root) return undefined;

  const layers: string[] = [];
  const ids = new Set<string>();
  const tags: { reference: string; id: string }[] = [];
  const shared: string[] = [];
  for (const reference of images) {
    // Images the host lacks are left to the caller to pull; the others are still shared.
    const inspected = await host.docker.getImage(reference).inspect().catch(() => undefined);
    if (!inspected || inspected.GraphDriver?.Name !== 'overlay2') continue;
    shared.push(reference);
    ids.add(inspected.Id);
    tags.push({ reference, id: inspected.Id });
    for (const chain of chainIds(inspected.RootFS.Layers ?? [])) if (!layers.includes(chain)) layers.push(chain);
  }
  if (shared.length === 0) return undefined;
  const mount = (Source: string, Target: string): Docker.MountSettings => ({
    Type: 'bind',
    Source,
    Target,
    ReadOnly: true,
    // The host's layer store also holds running containers' merged mounts; leave them out.
    BindOptions: { NonRecursive: true } as unknown as Docker.MountSettings['BindOptions'],
  });
  return {
    images: shared,
    mounts: [mount(`${root}/image/overlay2`, HOST_IMAGE_DIR), mount(`${root}/overlay2`, HOST_LAYER_DIR)],
    files: [
      { name: `${SEED_DIR}/images`, content: [...ids].map(hexOf).join('\n') + '\n' },
      { name: `${SEED_DIR}/layers`, content: layers.map(hexOf).join('\n') + '\n' },
      { name: `${SEED_DIR}/repositories.json`, content: repositoriesJson(tags) },
    ],
  };
}

/** The host's data root when it stores images with overlay2; asked once per host, not per engine. */
const overlayRoots = new Map<string, Promise<string | undefined>>();
function overlayRootOf(host: EngineClient): Promise<string | undefined> {
  let root = overlayRoots.get(host.address);
  if (!root) {
    root = host.docker.info().then((info: { Driver?: string; DockerRootDir?: string }) => (info.Driver === 'overlay2' ? info.DockerRootDir : undefined));
    root.catch(() => overlayRoots.delete(host.address));
    overlayRoots.set(host.address, root);
  }
  return root;
}

/** Only hex digests reach the shell script: nothing from an image can become a command. */
function hexOf(digest: string): string {
  const hex = digest.replace(/^sha256:/, '');
  if (!/^[0-9a-f]{64}$/.test(hex)) throw new Error(`unexpected digest ${digest}`);
  return hex;
}

/**
 * Run by the entry script before dockerd: copy metadata, bind the layers read-only, then drop
 * the view of the host's store. Layers already seeded (shared by two images) are skipped.
 */
export const SEED_SCRIPT = String.raw`
if [ -f ${SEED_DIR}/layers ]; then
  img=/var/lib/docker/image/overlay2; lay=/var/lib/docker/overlay2
  mkdir -p "$img/imagedb/content/sha256" "$img/imagedb/metadata/sha256" "$img/layerdb/sha256" "$lay/l"
  while read -r id; do
    cp "${HOST_IMAGE_DIR}/imagedb/content/sha256/$id" "$img/imagedb/content/sha256/$id"
  done < ${SEED_DIR}/images
  while read -r chain; do
    [ -d "$img/layerdb/sha256/$chain" ] && continue
    cp -a "${HOST_IMAGE_DIR}/layerdb/sha256/$chain" "$img/layerdb/sha256/$chain"
    cache=$(cat "$img/layerdb/sha256/$chain/cache-id")
    case "$cache" in *[!0-9a-f]*|'') echo "nestor: bad cache id for layer $chain" >&2; exit 1;; esac
    mkdir -p "$lay/$cache/diff" "$lay/$cache/work"
    cp "${HOST_LAYER_DIR}/$cache/link" "$lay/$cache/link"
    [ -f "${HOST_LAYER_DIR}/$cache/lower" ] && cp "${HOST_LAYER_DIR}/$cache/lower" "$lay/$cache/lower"
    mount --bind "${HOST_LAYER_DIR}/$cache/diff" "$lay/$cache/diff"
    mount -o remount,bind,ro "$lay/$cache/diff"
    ln -s "../$cache/diff" "$lay/l/$(cat "$lay/$cache/link")"
  done < ${SEED_DIR}/layers
  cp ${SEED_DIR}/repositories.json "$img/repositories.json"
fi
umount ${HOST_IMAGE_DIR} 2>/dev/null || true
umount ${HOST_LAYER_DIR} 2>/dev/null || true
`;
