import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { NestorError, errorMessage } from '../../errors.ts';
import type { EngineClient } from '../engine-client.ts';
import type { NestedEngine } from '../nested/nested-engine.ts';
import type { DaemonOptions } from '../nested/daemon-args.ts';
import { poolsAvoiding } from '../nested/address-pools.ts';
import { consumeProgress } from '../json-stream.ts';
import { imageExists } from './local-images.ts';
import { ImagePublisher } from './publish.ts';
import { ensureRegistry, type RegistryHandle } from './registry.ts';
import { DOCKER_HUB, hostName, parseReference } from './reference.ts';

const ROUTE = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/;

/**
 * How images reach nested engines. Each engine's dockerd uses this as its registry mirror, so
 * `docker pull alpine:3.19` inside a job asks here first. A manifest the host engine has is
 * copied into the shared registry on first request (uncompressed, layers shared); everything
 * then streams from that registry. Nothing goes to the internet for an image the host has,
 * which is what air-gapped sites need and what makes isolation cheap.
 *
 * The mirror listens only on the supply network's gateway, an address of this host that the
 * nested engines reach through their default route and the outside world does not.
 */
export class ImageSupply {
  readonly registry: RegistryHandle;
  readonly mirrorUrl: string;
  private readonly host: EngineClient;
  private readonly publisher: ImagePublisher;
  private readonly server: http.Server;
  /** Mirror requests served, by outcome: what `nestor doctor` and metrics report. */
  readonly stats = { manifests: 0, published: 0, blobs: 0, misses: 0 };
  /**
   * Told when an image asked for cannot be served from the host: the asking engine then tries
   * the image's own registry, and a job on a machine without internet sees only a DNS error.
   */
  onProblem: ((image: string, why: string) => void) | undefined;
  private readonly reported = new Set<string>();

  private constructor(host: EngineClient, registry: RegistryHandle, server: http.Server, publisher: ImagePublisher) {
    this.host = host;
    this.registry = registry;
    this.server = server;
    this.publisher = publisher;
    const { port } = server.address() as AddressInfo;
    this.mirrorUrl = `http://${registry.gateway}:${port}`;
  }

  static async start(host: EngineClient): Promise<ImageSupply> {
    const registry = await ensureRegistry(host.docker);
    const publisher = new ImagePublisher(host.docker, registry);
    let supply: ImageSupply | undefined;
    const server = http.createServer((req, res) => {
      if (!supply) return void res.writeHead(503).end();
      supply.handle(req, res).catch((err: unknown) => {
        supply?.problem(imageOf(req.url), `the image cache failed: ${errorMessage(err)}`);
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: 'UNKNOWN', message: errorMessage(err) }] }));
      });
    });
    server.keepAliveTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, registry.gateway, resolve);
    });
    supply = new ImageSupply(host, registry, server, publisher);
    return supply;
  }

  /**
   * What a nested dockerd needs to use this supply. The mirror listens on the supply network's
   * gateway, which a nested engine reaches through its default route; a network the engine
   * made for itself in the same subnet (docker-compose's `<project>_default` takes the first
   * free one of Docker's pools, 172.18.0.0/16 on a fresh host, like the supply network) would
   * make that address local to the engine and refuse every later pull. So the engine's own
   * networks come from Docker's default pools without the supply's subnet.
   */
  daemonOptions(): Pick<DaemonOptions, 'registryMirrors' | 'insecureRegistries' | 'defaultAddressPools'> {
    const hostPort = new URL(this.mirrorUrl).host;
    const avoid = this.registry.subnet ?? `${this.registry.gateway}/32`;
    return { registryMirrors: [this.mirrorUrl], insecureRegistries: [hostPort], defaultAddressPools: poolsAvoiding([avoid]) };
  }

  /**
   * Copies host images into the shared cache now, and into `engine` when given, so a job's
   * first `docker run` does not wait. Images only the host engine has (built there, loaded
   * from a file) work too.
   */
  async preload(images: string[], engine?: NestedEngine): Promise<void> {
    for (const image of images) {
      const ref = parseReference(image);
      if (ref.registry !== DOCKER_HUB || ref.digest) throw new NestorError('NESTOR_IMAGE_NOT_PRELOADABLE', `Only Docker Hub names by tag can be preloaded, not ${image}`, 'Name the image as Docker Hub does (alpine:3.19, org/app:1); images of other registries are pulled by each engine from there.');
      await this.publisher.publish(image, ref.repository, ref.tag);
    }
    if (engine) await Promise.all(images.map((image) => pullInto(engine, image)));
  }

  async close(): Promise<void> {
    // Engines keep connections to the mirror alive; close them, or close() waits for them.
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    this.server.closeAllConnections();
    await closed;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    if (path === '/v2/' || path === '/v2') {
      res.writeHead(200, { 'content-type': 'application/json', 'docker-distribution-api-version': 'registry/2.0' }).end('{}');
      return;
    }
    const m = ROUTE.exec(path);
    if (!m || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(405, { 'content-type': 'application/json' }).end('{"errors":[{"code":"UNSUPPORTED","message":"the Nestor mirror is read-only"}]}');
      return;
    }
    const [, repository, kind, reference] = m as unknown as [string, string, string, string];
    if (kind === 'manifests') {
      this.stats.manifests++;
      if (!reference.startsWith('sha256:')) {
        const local = hostName({ registry: DOCKER_HUB, repository, tag: reference });
        if (await imageExists(this.host.docker, local)) {
          await this.publisher.publish(local, repository, reference);
          this.stats.published++;
        } else {
          this.stats.misses++;
          this.problem(`${repository.replace(/^library\//, '')}:${reference}`, 'the host engine does not have it, so it is pulled from its registry');
        }
      }
    } else {
      this.stats.blobs++;
    }
    await this.forward(req, res, path);
  }

  /** Each problem once: an engine asks again for each media type it accepts. */
  private problem(image: string, why: string): void {
    const key = `${image} ${why}`;
    if (this.reported.has(key)) return;
    this.reported.add(key);
    this.onProblem?.(image, why);
  }

  /** Streams the registry's answer through unchanged (status, digest headers, body). */
  private forward(req: http.IncomingMessage, res: http.ServerResponse, path: string): Promise<void> {
    return new Promise((resolve, reject) => {
      const upstream = http.request(
        `${this.registry.url}${path}`,
        { method: req.method, headers: { accept: req.headers.accept ?? '*/*', authorization: this.registry.authorization } },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
          up.on('end', resolve);
          up.on('error', reject);
        },
      );
      upstream.on('error', reject);
      upstream.end();
    });
  }
}

/** `busybox:latest` for a mirror request of /v2/library/busybox/manifests/latest. */
function imageOf(url: string | undefined): string {
  const m = ROUTE.exec((url ?? '').split('?')[0] ?? '');
  return m ? `${m[1]!.replace(/^library\//, '')}${m[3]!.startsWith('sha256:') ? '@' : ':'}${m[3]}` : String(url);
}

/** Pulls `image` into the engine; an abort ends the pull where it is. */
export async function pullInto(engine: NestedEngine, image: string, signal?: AbortSignal): Promise<void> {
  signal?.throwIfAborted();
  const stream = (await engine.docker.pull(image)) as NodeJS.ReadableStream & { destroy(err?: Error): void };
  const stop = () => stream.destroy(new Error(`pull of ${image} into ${engine.name} stopped`));
  signal?.addEventListener('abort', stop, { once: true });
  try {
    await consumeProgress(`pull of ${image} into ${engine.name}`, stream);
  } finally {
    signal?.removeEventListener('abort', stop);
  }
}
