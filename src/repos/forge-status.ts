import { backoffDelay, type Backoff } from '../backoff.ts';
import { sleep } from '../sleep.ts';
import type { ForgeKind } from './repo-store.ts';

/** A pipeline's state in Nestor's words; each forge's own word is chosen in `forgeState`. */
export type PipelineState = 'pending' | 'running' | 'success' | 'failure' | 'cancelled' | 'error';

export interface ForgeTarget {
  kind: ForgeKind;
  /** https://api.github.com, https://gitlab.example.com/api/v4, https://gitea.example.com/api/v1 */
  apiUrl: string;
  /** owner/name (GitLab: the full path). */
  project: string;
  token: string;
}

export interface StatusUpdate {
  commit: string;
  state: PipelineState;
  context: string;
  description: string;
  targetUrl: string;
}

/**
 * Each forge's states: GitHub's statuses know pending, success, failure and error (no running,
 * no cancelled: a cancelled pipeline is an error, as other CI servers report it); GitLab's know
 * them all; Gitea's and Forgejo's are GitHub's plus warning.
 */
function forgeState(kind: ForgeKind, state: PipelineState): string {
  if (kind === 'gitlab') return { pending: 'pending', running: 'running', success: 'success', failure: 'failed', cancelled: 'canceled', error: 'failed' }[state];
  return { pending: 'pending', running: 'pending', success: 'success', failure: 'failure', cancelled: 'error', error: 'error' }[state];
}

/** The HTTP request each forge documents for a commit status. */
export function statusRequest(target: ForgeTarget, update: StatusUpdate): { method: 'POST'; url: string; headers: Record<string, string>; body: Record<string, unknown> } {
  if (!/^[0-9a-f]{40,64}$/.test(update.commit)) throw new Error(`not a commit id: ${update.commit}`);
  if (target.project.split('/').some((s) => s === '..' || s === '.' || s === '')) throw new Error(`not a project path: ${target.project}`);
  const api = target.apiUrl.replace(/\/+$/, '');
  const state = forgeState(target.kind, update.state);
  // GitHub cuts descriptions at 140 characters; the others take more, but gain nothing from it.
  const description = update.description.length > 140 ? `${update.description.slice(0, 139)}…` : update.description;
  const json = { 'content-type': 'application/json', 'user-agent': 'nestor' };
  if (target.kind === 'gitlab') {
    return {
      method: 'POST',
      url: `${api}/projects/${encodeURIComponent(target.project)}/statuses/${update.commit}`,
      headers: { ...json, 'private-token': target.token },
      body: { state, name: update.context, target_url: update.targetUrl, description },
    };
  }
  const path = target.project.split('/').map(encodeURIComponent).join('/');
  const auth: Record<string, string> = target.kind === 'github' ? { authorization: `Bearer ${target.token}`, accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' } : { authorization: `token ${target.token}` };
  return { method: 'POST', url: `${api}/repos/${path}/statuses/${update.commit}`, headers: { ...json, ...auth }, body: { state, target_url: update.targetUrl, description, context: update.context } };
}

export interface StatusReporterOptions {
  backoff?: Backoff;
  /** Tries per update before it is given up (default 8: about four minutes with the default back-off). */
  maxAttempts?: number;
  timeoutMs?: number;
  onProblem?: (what: string, err: unknown) => void;
}

const DEFAULT_BACKOFF: Backoff = { base: 500, max: 60_000, jitter: 0.25 };

interface Pending {
  target: ForgeTarget;
  update: StatusUpdate;
}

/**
 * Posts commit statuses in the background: `report` never waits and never fails. Updates of one
 * commit and context are sent in order, and while one waits to be retried a newer one replaces
 * it (the forge only needs the latest). A forge that answers 429 or 5xx, or not at all, is
 * retried with back-off; any other refusal is said once (without the token) and dropped.
 */
export class StatusReporter {
  private readonly opts: Required<Omit<StatusReporterOptions, 'onProblem'>> & Pick<StatusReporterOptions, 'onProblem'>;
  /** The newest update not yet sent, per commit and context. */
  private readonly queued = new Map<string, Pending>();
  /** Keys a sender is working on. */
  private readonly sending = new Set<string>();
  private readonly closing = new AbortController();
  private readonly senders = new Set<Promise<void>>();

  constructor(opts: StatusReporterOptions = {}) {
    this.opts = { backoff: opts.backoff ?? DEFAULT_BACKOFF, maxAttempts: opts.maxAttempts ?? 8, timeoutMs: opts.timeoutMs ?? 10_000, ...(opts.onProblem ? { onProblem: opts.onProblem } : {}) };
  }

  report(target: ForgeTarget, update: StatusUpdate): void {
    if (this.closing.signal.aborted) return;
    const key = `${target.kind} ${target.apiUrl} ${target.project} ${update.commit} ${update.context}`;
    this.queued.set(key, { target, update });
    if (this.sending.has(key)) return;
    this.sending.add(key);
    const sender = this.send(key).finally(() => {
      this.sending.delete(key);
      this.senders.delete(sender);
    });
    this.senders.add(sender);
  }

  /** Resolves when every update has been sent or given up. */
  async idle(): Promise<void> {
    while (this.senders.size) await Promise.allSettled([...this.senders]);
  }

  /** Stops retrying; what is not sent yet is dropped. */
  async close(): Promise<void> {
    this.closing.abort();
    if (this.queued.size) this.opts.onProblem?.(`${this.queued.size} commit status(es) not sent: the server is stopping`, undefined);
    this.queued.clear();
    await this.idle();
  }

  private async send(key: string): Promise<void> {
    let attempt = 0;
    for (let next = this.queued.get(key); next && !this.closing.signal.aborted; next = this.queued.get(key)) {
      this.queued.delete(key);
      const outcome = await this.post(next);
      if (outcome === 'sent' || outcome === 'refused') {
        attempt = 0;
        continue;
      }
      if (++attempt >= this.opts.maxAttempts) {
        this.opts.onProblem?.(`gave up posting a commit status to ${next.target.apiUrl} after ${attempt} tries`, outcome);
        attempt = 0;
        continue;
      }
      // Retried unless a newer update came meanwhile, which is sent instead.
      if (!this.queued.has(key)) this.queued.set(key, next);
      await sleep(backoffDelay(attempt - 1, this.opts.backoff), this.closing.signal);
    }
  }

  /** 'sent', 'refused' (not worth retrying), or the failure to retry. */
  private async post(p: Pending): Promise<'sent' | 'refused' | Error> {
    const req = statusRequest(p.target, p.update);
    try {
      const res = await fetch(req.url, { method: req.method, headers: req.headers, body: JSON.stringify(req.body), signal: AbortSignal.any([AbortSignal.timeout(this.opts.timeoutMs), this.closing.signal]) });
      const text = await res.text().catch(() => '');
      if (res.ok) return 'sent';
      const err = new Error(`${req.method} ${req.url} answered ${res.status}: ${text.replaceAll(p.target.token, '***').slice(0, 300)}`);
      if (res.status === 429 || res.status >= 500) return err;
      this.opts.onProblem?.('the forge refused a commit status (check the repository\'s forge token and project)', err);
      return 'refused';
    } catch (err) {
      return new Error(`${req.method} ${req.url}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
}
