import type { EngineClient } from '../engine/engine-client.ts';
import { EnginePool } from '../engine/pool.ts';
import type { ImageSupply } from '../engine/images/supply.ts';
import { ensureRegistry, REGISTRY_ALIAS, type RegistryHandle } from '../engine/images/registry.ts';
import { buildImage, copyImage, pushImage, type HasDocker } from '../engine/images/image-transfer.ts';
import { splitTag } from '../engine/images/reference.ts';
import { LABEL_FUNCTION, nestorLabels } from '../engine/labels.ts';
import type { NestedEngine } from '../engine/nested/nested-engine.ts';
import type { ProvisionOptions } from '../engine/nested/provision.ts';
import { buildContext } from './build-context.ts';
import type { DockerfileUsed } from './dockerfile.ts';
import type { FunctionSpec } from './manifest.ts';
import { BackgroundWork } from '../background-work.ts';

/** Where built images are pushed: Nestor's own registry, or one the user configures. */
export interface ImageRegistry {
  /** `local` for Nestor's registry, else HOST[:PORT]. */
  host: string;
  /** Repository prefix: `nestor` for the local registry, `HOST[:PORT]/PATH` for another. */
  prefix: string;
}

export const LOCAL_REGISTRY: ImageRegistry = { host: 'local', prefix: 'nestor' };
const LOCAL_PUSH_HOST = `${REGISTRY_ALIAS}:5000`;

/** `registry.example.com/team` → pushed as registry.example.com/team/NS/PATH:TAG. */
export function registryFromSetting(setting: string | undefined): ImageRegistry {
  if (!setting || setting === 'local') return LOCAL_REGISTRY;
  const prefix = setting.replace(/\/+$/, '');
  return { host: prefix.split('/')[0]!, prefix };
}

export type Credentials = (registry: string) => Promise<{ username: string; secret: string } | undefined>;
/** Every stored credential, for pulls of FROM images during a build. */
export type AllCredentials = () => Promise<{ registry: string; username: string; secret: string }[]>;

export interface BuiltImage {
  path: string;
  image: string;
  buildMs: number;
  dockerfile: DockerfileUsed;
}

export interface BuildBatch {
  namespace: string;
  app: string;
  commit: string;
  repoRoot: string;
  sourcePath: string;
  functions: FunctionSpec[];
  log: (text: string) => void;
  /** The engine that runs the functions; images are loaded into it. */
  target: EngineClient;
}

/** `20261123T014649Z-ab12cd3`: sortable by time, and says which commit it holds. */
export function imageTag(commit: string, at = new Date()): string {
  return `${at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}-${commit.slice(0, 7)}`;
}

/**
 * Builds a deployment's functions inside one nested engine (from a warm pool), pushes each
 * image to the registry, and loads it into the target engine. The engine is destroyed after
 * the batch, successful or not; the host engine never sees a build.
 */
export class FunctionBuilder {
  private readonly pool: EnginePool;
  private readonly registry: ImageRegistry;
  private readonly credentials: Credentials;
  private readonly releasing = new BackgroundWork();
  private readonly allCredentials: AllCredentials;
  /** Nestor's own registry, when it is the one pushed to: its address and write password. */
  private localRegistry: RegistryHandle | undefined;
  private readonly host: EngineClient;

  constructor(opts: { host: EngineClient; supply?: ImageSupply; registry?: ImageRegistry; credentials: Credentials; allCredentials?: AllCredentials; warm?: number; insecureRegistries?: string[]; engine?: Omit<ProvisionOptions, 'host'> }) {
    this.registry = opts.registry ?? LOCAL_REGISTRY;
    this.credentials = opts.credentials;
    this.allCredentials = opts.allCredentials ?? (async () => []);
    this.localRegistry = opts.supply?.registry;
    this.host = opts.host;
    const mirror = opts.supply?.daemonOptions();
    this.pool = new EnginePool({
      size: opts.warm ?? 1,
      engine: {
        host: opts.host,
        ...(this.registry === LOCAL_REGISTRY ? { joinRegistry: 'writable' as const } : {}),
        daemon: { ...(mirror ?? {}), insecureRegistries: [...(mirror?.insecureRegistries ?? []), LOCAL_PUSH_HOST, ...(opts.insecureRegistries ?? [])] },
        extraLabels: { 'dev.nestor.purpose': 'build' },
        ...opts.engine,
      },
    });
    this.pool.on('error', () => undefined); // a failed background start shows up on acquire
  }

  /** Starts keeping build engines ready; called once there is something to build. */
  warm(): void {
    void this.pool.start().catch(() => undefined); // a failed start shows up on acquire
  }

  imageName(namespace: string, path: string, tag: string): string {
    return `${this.registry.prefix}/${namespace}/${path}:${tag}`;
  }

  async build(batch: BuildBatch, tag: string): Promise<BuiltImage[]> {
    const engine = await this.pool.acquire();
    const shipping: Promise<void>[] = [];
    try {
      batch.log(`[nestor] building in nested engine ${engine.name}\n`);
      const built: BuiltImage[] = [];
      for (const fn of batch.functions) {
        const image = await this.buildOne(engine, batch, fn, tag);
        built.push(image);
        // Push and delivery of one image overlap the build of the next.
        shipping.push(this.ship(engine, image.image, batch));
      }
      await Promise.all(shipping);
      return built;
    } finally {
      await Promise.allSettled(shipping);
      // The engine goes in the background: nothing waits for its teardown.
      this.releasing.add(this.pool.release(engine));
    }
  }

  private async buildOne(engine: NestedEngine, batch: BuildBatch, fn: FunctionSpec, tag: string): Promise<BuiltImage> {
    const image = this.imageName(batch.namespace, fn.path, tag);
    batch.log(`[nestor] ${fn.path}: docker build (context ${fn.context}, dockerfile ${fn.dockerfile}) → ${image}\n`);
    const ctx = await buildContext(batch.repoRoot, batch.sourcePath, fn);
    // Said when it differs from Compose's reading, so a surprising choice shows in the log.
    if (ctx.used.base === 'source') batch.log(`[nestor] ${fn.path}: no ${fn.dockerfile} in the context; using ${ctx.used.path}, relative to the application's directory\n`);
    // Credentials travel in the X-Registry-Config header, for FROM images in private registries.
    const registryconfig = Object.fromEntries((await this.allCredentials()).map((c) => [c.registry, { username: c.username, password: c.secret }]));
    const started = performance.now();
    await buildImage(
      engine,
      ctx.archive as unknown as NodeJS.ReadableStream,
      { name: fn.path, tag: image, dockerfile: ctx.dockerfile, registryconfig, labels: nestorLabels('image', { [LABEL_FUNCTION]: `${batch.namespace}/${fn.path}`, 'dev.nestor.commit': batch.commit }) },
      (m) => {
        if (m.stream) batch.log(m.stream);
        else if (m.error) batch.log(`${m.error}\n`);
      },
    );
    const buildMs = performance.now() - started;
    batch.log(`[nestor] ${fn.path}: built in ${Math.round(buildMs)} ms\n`);
    return { path: fn.path, image, buildMs, dockerfile: ctx.used };
  }

  private async ship(engine: HasDocker, image: string, batch: BuildBatch): Promise<void> {
    await Promise.all([this.push(engine, image, batch.log), this.deliver(engine, image, batch.target, batch.log)]);
  }

  /** Pushes to the registry; for Nestor's own, under the name the build engine reaches it by. */
  private async push(engine: HasDocker, image: string, log: (t: string) => void): Promise<void> {
    const local = this.registry === LOCAL_REGISTRY;
    const registryHost = local ? LOCAL_PUSH_HOST : this.registry.host;
    const creds = local ? await this.localCredentials() : await this.credentials(registryHost);
    await pushImage(engine, image, local ? `${LOCAL_PUSH_HOST}/${image}` : image, registryHost, creds);
    log(`[nestor] pushed ${image} to ${local ? 'the local registry' : registryHost}\n`);
  }

  /** Copies the image into the engine that runs it: `docker save` there, `docker load` here. */
  private async deliver(from: HasDocker, image: string, target: EngineClient, log: (t: string) => void): Promise<void> {
    await copyImage(from, image, target, target.address);
    log(`[nestor] loaded ${image} into ${target.address}\n`);
  }

  /**
   * Deletes a pruned image's tag from the registry (manifest by digest, as the distribution
   * API wants). Only Nestor's own registry is cleaned; another registry keeps its own policy.
   */
  async removeFromRegistry(image: string): Promise<boolean> {
    if (this.registry !== LOCAL_REGISTRY) return false;
    const { url: localRegistryUrl, authorization } = await this.ownRegistry();
    // A digest names the manifest itself; a tag is looked up.
    const [repo, tag, pinned] = splitTag(image);
    const reference = pinned ?? tag;
    const accept = ['application/vnd.docker.distribution.manifest.v2+json', 'application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json', 'application/vnd.oci.image.index.v1+json'].join(', ');
    const head = await fetch(`${localRegistryUrl}/v2/${repo}/manifests/${reference}`, { method: 'HEAD', headers: { accept, authorization } });
    const digest = head.headers.get('docker-content-digest');
    if (!head.ok || !digest) return false;
    const del = await fetch(`${localRegistryUrl}/v2/${repo}/manifests/${digest}`, { method: 'DELETE', headers: { authorization } });
    return del.ok;
  }

  /** Nestor's registry takes writes only with its password, which a build's own steps never see. */
  private async ownRegistry(): Promise<RegistryHandle> {
    this.localRegistry ??= await ensureRegistry(this.host.docker);
    return this.localRegistry;
  }

  private async localCredentials(): Promise<{ username: string; secret: string }> {
    const { username, password } = (await this.ownRegistry()).credentials;
    return { username, secret: password };
  }

  async close(): Promise<void> {
    await this.releasing.settled();
    await this.pool.close();
  }
}
