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
  /** Its jobs' statuses by workflow (GitHub's workflow, a Drone or Woodpecker pipeline); several get a context each. */
  workflows?: { name: string; statuses: string[] }[];
}

/** A workflow's status from its jobs': running while one runs, else pending until all ended, then the worst. */
export function workflowStatus(statuses: string[]): string {
  if (statuses.some((s) => s === 'running')) return 'running';
  if (!statuses.every((s) => ENDED.has(s))) return statuses.some((s) => s !== 'waiting' && s !== 'queued') ? 'running' : 'queued';
  return statuses.includes('failed') ? 'failed' : statuses.includes('cancelled') ? 'cancelled' : 'succeeded';
}

const STATE: Record<string, PipelineState> = { waiting: 'pending', queued: 'pending', running: 'running', succeeded: 'success', failed: 'failure', cancelled: 'cancelled', skipped: 'success' };
const ENDED = new Set(['succeeded', 'failed', 'cancelled', 'skipped']);

/**
 * The commit status of each repository pipeline on its forge, as the pipeline starts and ends:
 * one context for the whole pipeline (`nestor/ci`, what a branch protection names), and, when
 * its files hold several workflows, one more per workflow (`nestor/ci/NAME`), each linking to
 * the pipeline. Told of every
 * change (several servers and reapers may tell twice), it sends each state once. The reporter
 * retries a forge that does not answer, in the background: the pipeline never waits for it.
 */
export class PipelineStatuses {
  private readonly reporter: StatusReporter;
  private readonly publicUrl: string;
  /** The state last sent per pipeline and context, until it ends. */
  private readonly sent = new Map<string, PipelineState>();

  constructor(reporter: StatusReporter, publicUrl: string) {
    this.reporter = reporter;
    this.publicUrl = publicUrl.replace(/\/+$/, '');
  }

  changed(repo: RepoRecord, p: PipelineOnForge): void {
    if (!repo.forge || !repo.forgeToken) return;
    const forge = { kind: repo.forge.kind, apiUrl: repo.forge.apiUrl, project: repo.forge.project, token: repo.forgeToken };
    const targetUrl = `${this.publicUrl}/api/repos/${encodeURIComponent(repo.name)}/pipelines/${p.number}`;
    const send = (context: string, status: string, description: string) => {
      const key = `${p.id} ${context}`;
      const state = STATE[status] ?? 'pending';
      if (this.sent.get(key) === state) return;
      this.sent.set(key, state);
      this.reporter.report(forge, { commit: p.commit, state, context, description, targetUrl });
    };
    send('nestor/ci', p.status, describe(`Pipeline #${p.number}`, p.status, p.error));
    const workflows = p.workflows ?? [];
    if (workflows.length > 1) {
      for (const w of workflows) {
        // A pipeline that failed before any job ran (its files) ends each workflow with it.
        const status = ENDED.has(p.status) && !w.statuses.every((s) => ENDED.has(s)) ? p.status : workflowStatus(w.statuses);
        send(`nestor/ci/${w.name}`, status, describe(`${w.name} (#${p.number})`, status, null));
      }
    }
    // Once the pipeline has ended nothing of it changes: what was sent need not be remembered.
    if (ENDED.has(p.status)) for (const key of [...this.sent.keys()]) if (key.startsWith(`${p.id} `)) this.sent.delete(key);
  }
}

function describe(what: string, status: string, error: string | null | undefined): string {
  const p = { status, error };
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
