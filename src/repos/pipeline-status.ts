import type { PipelineState, StatusReporter } from './forge-status.ts';
import type { RepoRecord } from './repo-store.ts';

/** A pipeline as its commit status needs it. */
export interface PipelineOnForge {
  id: string;
  number: number;
  /** The store's status: waiting, queued, running, succeeded, failed, cancelled. */
  status: string;
  commit: string;
  error?: string | null;
}

const STATE: Record<string, PipelineState> = { waiting: 'pending', queued: 'pending', running: 'running', succeeded: 'success', failed: 'failure', cancelled: 'cancelled', skipped: 'success' };
const ENDED = new Set(['succeeded', 'failed', 'cancelled', 'skipped']);

/**
 * The commit status of each repository pipeline on its forge, as the pipeline starts and ends:
 * one context per repository's pipeline (`nestor/ci`), linking to the pipeline. Told of every
 * change (several servers and reapers may tell twice), it sends each state once. The reporter
 * retries a forge that does not answer, in the background: the pipeline never waits for it.
 */
export class PipelineStatuses {
  private readonly reporter: StatusReporter;
  private readonly publicUrl: string;
  /** The state last sent per pipeline, until it ends. */
  private readonly sent = new Map<string, PipelineState>();

  constructor(reporter: StatusReporter, publicUrl: string) {
    this.reporter = reporter;
    this.publicUrl = publicUrl.replace(/\/+$/, '');
  }

  changed(repo: RepoRecord, p: PipelineOnForge): void {
    if (!repo.forge || !repo.forgeToken) return;
    const state = STATE[p.status] ?? 'pending';
    if (this.sent.get(p.id) === state) return;
    if (ENDED.has(p.status)) this.sent.delete(p.id);
    else this.sent.set(p.id, state);
    this.reporter.report(
      { kind: repo.forge.kind, apiUrl: repo.forge.apiUrl, project: repo.forge.project, token: repo.forgeToken },
      { commit: p.commit, state, context: 'nestor/ci', description: describe(p), targetUrl: `${this.publicUrl}/api/repos/${encodeURIComponent(repo.name)}/pipelines/${p.number}` },
    );
  }
}

function describe(p: PipelineOnForge): string {
  const what = `Pipeline #${p.number}`;
  switch (p.status) {
    case 'succeeded':
      return `${what} passed`;
    case 'failed':
      return `${what} failed${p.error ? `: ${p.error.split('\n')[0]}` : ''}`;
    case 'cancelled':
      return `${what} was cancelled`;
    case 'running':
      return `${what} is running`;
    default:
      return `${what} is waiting for a runner`;
  }
}
