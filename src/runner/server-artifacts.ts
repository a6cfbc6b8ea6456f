import { Readable } from 'node:stream';
import type { ArtifactStore, StoredArtifact } from '../artifacts/artifact-store.ts';
import { ServerProblem, problemOf, type ServerClient } from './server-client.ts';

/** How long an artifact upload or download may take before it is given up. */
const TRANSFER_MS = 10 * 60_000;

/**
 * The server's artifact store as a runner reaches it, for the one job it holds: `put` sends the
 * job's archive as it is read (PUT .../artifacts), `open` fetches another job's of the same
 * pipeline (GET .../artifacts/NAME), each with the lease's token. The pipeline is the server's
 * to know: the `pipeline` argument of each call is not sent.
 */
export class ServerArtifacts implements ArtifactStore {
  private readonly client: ServerClient;
  private readonly jobId: string;
  private readonly lease: string;

  constructor(client: ServerClient, jobId: string, lease: string) {
    this.client = client;
    this.jobId = jobId;
    this.lease = lease;
  }

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return { authorization: `Bearer ${this.client.token}`, 'x-nestor-lease': this.lease, ...extra };
  }

  async put(_pipeline: string, _job: string, archive: NodeJS.ReadableStream, expiresAt: number | null): Promise<StoredArtifact> {
    const path = `/api/runner/jobs/${this.jobId}/artifacts?expires_at=${expiresAt ?? 'never'}`;
    const res = await fetch(`${this.client.base}${path}`, {
      method: 'PUT',
      headers: this.headers({ 'content-type': 'application/x-tar' }),
      body: Readable.toWeb(Readable.from(archive as AsyncIterable<Uint8Array>)) as ReadableStream,
      duplex: 'half',
      signal: AbortSignal.timeout(TRANSFER_MS),
    } as RequestInit);
    const text = await res.text();
    if (!res.ok) throw new ServerProblem(res.status, problemOf(text), `PUT ${path}`);
    const body = JSON.parse(text) as { bytes: number; expires_at: number | null };
    return { bytes: body.bytes, expiresAt: body.expires_at };
  }

  async open(_pipeline: string, job: string): Promise<Readable | undefined> {
    const path = `/api/runner/jobs/${this.jobId}/artifacts/${encodeURIComponent(job)}`;
    const res = await fetch(`${this.client.base}${path}`, { headers: this.headers(), signal: AbortSignal.timeout(TRANSFER_MS) });
    if (res.status === 404) {
      await res.body?.cancel();
      return undefined;
    }
    if (!res.ok || !res.body) throw new ServerProblem(res.status, problemOf(await res.text()), `GET ${path}`);
    return Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>);
  }

  /** The server sweeps its own store. */
  sweep(): number {
    return 0;
  }
}
