import type Docker from 'dockerode';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { extract } from 'tar-stream';
import { NestorError } from '../../errors.ts';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
/** Uncompressed layers: a nested engine on the same host unpacks them without gunzip. */
const OCI_LAYER_TAR = 'application/vnd.oci.image.layer.v1.tar';

export class PublishError extends NestorError {
  constructor(image: string, why: string) {
    super('NESTOR_IMAGE_PUBLISH_FAILED', `Could not copy ${image} into the image cache: ${why}`, 'Check `docker logs nestor-registry` and the free space of its volume (nestor-registry-data).');
  }
}

interface Blob {
  digest: string;
  size: number;
  path: string;
}

/**
 * Copies an image the host engine has into the registry as an OCI manifest with uncompressed
 * layers. Layers are content-addressed by their diffID, so a layer the registry already holds
 * (from any image) is not sent again.
 */
export class ImagePublisher {
  private readonly docker: Docker;
  private readonly registryUrl: string;
  private readonly authorization: string;
  /** `repository:tag` → image ID last published, so repeated requests cost one inspect. */
  private readonly published = new Map<string, string>();
  /** diffID → a repository whose blob store has it, for cross-repository mounts. */
  private readonly blobHome = new Map<string, string>();
  private readonly inFlight = new Map<string, Promise<void>>();

  constructor(docker: Docker, registry: { url: string; authorization: string }) {
    this.docker = docker;
    this.registryUrl = registry.url;
    this.authorization = registry.authorization;
  }

  /** Every call to the registry carries Nestor's own credentials: it refuses everyone else. */
  private request(url: string | URL, init: RequestInit = {}): Promise<Response> {
    return fetch(url, { ...init, headers: { ...(init.headers as Record<string, string> | undefined), authorization: this.authorization } });
  }

  /** Publishes host image `hostImage` as `repository:tag`; concurrent calls for one tag share the work. */
  publish(hostImage: string, repository: string, tag: string): Promise<void> {
    const key = `${repository}:${tag}`;
    let job = this.inFlight.get(key);
    if (!job) {
      job = this.doPublish(hostImage, repository, tag).finally(() => this.inFlight.delete(key));
      this.inFlight.set(key, job);
    }
    return job;
  }

  private async doPublish(hostImage: string, repository: string, tag: string): Promise<void> {
    const info = await this.docker.getImage(hostImage).inspect();
    const key = `${repository}:${tag}`;
    if (this.published.get(key) === info.Id) return;
    if ((await this.remoteConfigDigest(repository, tag)) === info.Id) {
      this.published.set(key, info.Id);
      return;
    }
    const diffIds: string[] = info.RootFS?.Layers ?? [];
    const missing = new Set<string>();
    for (const d of diffIds) if (!(await this.ensureBlobWithoutUpload(repository, d))) missing.add(d);

    const dir = mkdtempSync(join(tmpdir(), 'nestor-publish-'));
    try {
      let layers: Blob[];
      let config: Blob;
      if (missing.size === 0 && (await this.hasBlob(repository, info.Id))) {
        layers = await Promise.all(diffIds.map(async (d) => ({ digest: d, size: await this.blobSize(repository, d), path: '' })));
        config = { digest: info.Id, size: await this.blobSize(repository, info.Id), path: '' };
      } else {
        const exported = await this.exportImage(hostImage, dir);
        layers = exported.layers;
        config = exported.config;
        for (const blob of [...layers, config]) {
          if (blob === config || missing.has(blob.digest)) await this.upload(repository, blob);
        }
      }
      const manifest = JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        config: { mediaType: OCI_CONFIG, digest: config.digest, size: config.size },
        layers: layers.map((l) => ({ mediaType: OCI_LAYER_TAR, digest: l.digest, size: l.size })),
      });
      const res = await this.request(`${this.registryUrl}/v2/${repository}/manifests/${tag}`, {
        method: 'PUT',
        headers: { 'content-type': OCI_MANIFEST },
        body: manifest,
      });
      if (!res.ok) throw new PublishError(hostImage, `manifest rejected: HTTP ${res.status} ${await res.text()}`);
      for (const l of layers) this.blobHome.set(l.digest, repository);
      this.published.set(key, info.Id);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }

  private async remoteConfigDigest(repository: string, tag: string): Promise<string | undefined> {
    const res = await this.request(`${this.registryUrl}/v2/${repository}/manifests/${tag}`, { headers: { accept: OCI_MANIFEST } });
    if (!res.ok) return undefined;
    const body = (await res.json()) as { config?: { digest?: string } };
    return body.config?.digest;
  }

  private async hasBlob(repository: string, digest: string): Promise<boolean> {
    const res = await this.request(`${this.registryUrl}/v2/${repository}/blobs/${digest}`, { method: 'HEAD' });
    return res.ok;
  }

  private async blobSize(repository: string, digest: string): Promise<number> {
    const res = await this.request(`${this.registryUrl}/v2/${repository}/blobs/${digest}`, { method: 'HEAD' });
    return Number(res.headers.get('content-length'));
  }

  /** True when the blob is there already or could be mounted from another repository. */
  private async ensureBlobWithoutUpload(repository: string, digest: string): Promise<boolean> {
    if (await this.hasBlob(repository, digest)) return true;
    const home = this.blobHome.get(digest);
    if (!home) return false;
    const res = await this.request(`${this.registryUrl}/v2/${repository}/blobs/uploads/?mount=${digest}&from=${home}`, { method: 'POST' });
    return res.status === 201;
  }

  private async upload(repository: string, blob: Blob): Promise<void> {
    const start = await this.request(`${this.registryUrl}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
    const location = start.headers.get('location');
    if (start.status !== 202 || !location) throw new PublishError(repository, `upload refused: HTTP ${start.status}`);
    const url = new URL(location, this.registryUrl);
    url.searchParams.set('digest', blob.digest);
    const res = await this.request(url, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream', 'content-length': String(blob.size) },
      body: Readable.toWeb(createReadStream(blob.path)) as ReadableStream,
      duplex: 'half',
    } as RequestInit);
    if (res.status !== 201) throw new PublishError(repository, `blob ${blob.digest} rejected: HTTP ${res.status} ${await res.text()}`);
  }

  /** `docker save` into `dir`, hashing as it writes; handles the classic and the OCI layouts. */
  private async exportImage(image: string, dir: string): Promise<{ layers: Blob[]; config: Blob }> {
    const files = new Map<string, Blob>();
    let manifestJson = '';
    const ex = extract();
    ex.on('entry', (header, stream, next) => {
      if (header.type !== 'file') {
        stream.resume();
        stream.on('end', next);
        return;
      }
      if (header.name === 'manifest.json') {
        const parts: Buffer[] = [];
        stream.on('data', (c: unknown) => {
          parts.push(c as Buffer);
        });
        stream.on('end', () => {
          manifestJson = Buffer.concat(parts).toString('utf8');
          next();
        });
        return;
      }
      const path = join(dir, String(files.size));
      const hash = createHash('sha256');
      let size = 0;
      stream.on('data', (c: unknown) => {
        hash.update(c as Buffer);
        size += (c as Buffer).length;
      });
      pipeline(stream, createWriteStream(path)).then(
        () => {
          files.set(header.name, { digest: `sha256:${hash.digest('hex')}`, size, path });
          next();
        },
        (err: unknown) => next(err as Error),
      );
    });
    const saved = (await this.docker.getImage(image).get()) as NodeJS.ReadableStream;
    await pipeline(saved, ex);
    const manifest = JSON.parse(manifestJson || '[]') as { Config: string; Layers: string[] }[];
    const entry = manifest[0];
    if (!entry) throw new PublishError(image, 'the engine exported no manifest');
    const pick = (name: string): Blob => {
      const blob = files.get(name);
      if (!blob) throw new PublishError(image, `the export lacks ${name}`);
      return blob;
    };
    return { layers: entry.Layers.map(pick), config: pick(entry.Config) };
  }
}
