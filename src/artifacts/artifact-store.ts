import { copyFileSync, createReadStream, createWriteStream, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { NestorError } from '../errors.ts';

export { parseExpireIn } from '../pipeline/expire-in.ts';

/**
 * Where a pipeline's jobs leave files for the jobs after them: one archive per job and
 * pipeline run, kept until it expires. `LocalArtifactStore` keeps them on a local disk (a
 * temporary directory for `nestor run`, the server's data directory); a runner reaches the
 * server's through the runner protocol (runner/server-artifacts.ts) behind the same calls.
 */
export interface ArtifactStore {
  /** Stores the job's archive; refused past the size cap, and then nothing is kept. */
  put(pipeline: string, job: string, archive: NodeJS.ReadableStream, expiresAt: number | null): Promise<StoredArtifact>;
  /** The job's archive, or undefined when it left none or it expired. */
  open(pipeline: string, job: string): Promise<Readable | undefined>;
  /** Removes what expired before `now`; answers how many archives went. */
  sweep(now: number): number;
}

export interface StoredArtifact {
  bytes: number;
  expiresAt: number | null;
}

export class ArtifactTooLargeError extends NestorError {
  constructor(job: string, cap: number) {
    super('NESTOR_ARTIFACTS_TOO_LARGE', `The artifacts of job ${job} pass the cap of ${cap} bytes; none were kept`, 'Narrow `artifacts: paths` (or add `exclude`), or raise the artifact size cap of the runner.');
  }
}

/** A name as one path segment: pipelines and jobs are named by users (`test:unit`, `build image`). */
function segment(name: string): string {
  return encodeURIComponent(name).replace(/\./g, '%2E');
}

export class LocalArtifactStore implements ArtifactStore {
  private readonly dir: string;
  private readonly maxBytes: number;

  constructor(dir: string, opts: { maxBytes?: number } = {}) {
    this.dir = dir;
    this.maxBytes = opts.maxBytes ?? 1024 ** 3;
  }

  private paths(pipelineId: string, job: string): { tar: string; meta: string; dir: string } {
    const dir = join(this.dir, segment(pipelineId));
    return { dir, tar: join(dir, `${segment(job)}.tar`), meta: join(dir, `${segment(job)}.json`) };
  }

  async put(pipelineId: string, job: string, archive: NodeJS.ReadableStream, expiresAt: number | null): Promise<StoredArtifact> {
    const p = this.paths(pipelineId, job);
    mkdirSync(p.dir, { recursive: true, mode: 0o700 });
    const partial = `${p.tar}.partial`;
    let bytes = 0;
    const cap = this.maxBytes;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        bytes += chunk.length;
        if (bytes > cap) done(new ArtifactTooLargeError(job, cap));
        else done(null, chunk);
      },
    });
    try {
      await pipeline(archive, counter, createWriteStream(partial, { mode: 0o600 }));
    } catch (err) {
      rmSync(partial, { force: true });
      throw err;
    }
    // Written whole before it is seen: a job reading it never gets half an archive.
    renameSync(partial, p.tar);
    const stored = { bytes, expiresAt };
    writeFileSync(p.meta, JSON.stringify(stored), { mode: 0o600 });
    return stored;
  }

  async open(pipelineId: string, job: string): Promise<Readable | undefined> {
    const p = this.paths(pipelineId, job);
    if (!existsSync(p.tar) || !existsSync(p.meta)) return undefined;
    const meta = JSON.parse(readFileSync(p.meta, 'utf8')) as StoredArtifact;
    if (meta.expiresAt !== null && meta.expiresAt <= Date.now()) return undefined;
    return createReadStream(p.tar);
  }

  /** Removes everything a pipeline's jobs kept (its retention is over). */
  removeRun(pipelineId: string): void {
    rmSync(this.paths(pipelineId, '').dir, { recursive: true, force: true });
  }

  /** Hands a job's archive (if any) from one pipeline to another: a restart's jobs not run again. */
  copy(fromPipeline: string, toPipeline: string, job: string): boolean {
    const from = this.paths(fromPipeline, job);
    if (!existsSync(from.tar) || !existsSync(from.meta)) return false;
    const to = this.paths(toPipeline, job);
    mkdirSync(to.dir, { recursive: true, mode: 0o700 });
    copyFileSync(from.tar, to.tar);
    copyFileSync(from.meta, to.meta);
    return true;
  }

  /** What the jobs of a pipeline left that has not expired, by job. */
  list(pipelineId: string): ({ job: string } & StoredArtifact)[] {
    const dir = this.paths(pipelineId, '').dir;
    if (!existsSync(dir)) return [];
    const now = Date.now();
    return readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => ({ job: decodeURIComponent(f.replace(/\.json$/, '')), ...(JSON.parse(readFileSync(join(dir, f), 'utf8')) as StoredArtifact) }))
      .filter((a) => a.expiresAt === null || a.expiresAt > now)
      .sort((a, b) => a.job.localeCompare(b.job));
  }

  sweep(now: number): number {
    if (!existsSync(this.dir)) return 0;
    let removed = 0;
    for (const run of readdirSync(this.dir)) {
      const dir = join(this.dir, run);
      for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
        const meta = JSON.parse(readFileSync(join(dir, file), 'utf8')) as StoredArtifact;
        if (meta.expiresAt === null || meta.expiresAt > now) continue;
        rmSync(join(dir, file.replace(/\.json$/, '.tar')), { force: true });
        rmSync(join(dir, file), { force: true });
        removed++;
      }
      if (!readdirSync(dir).length) rmSync(dir, { recursive: true, force: true });
    }
    return removed;
  }
}
