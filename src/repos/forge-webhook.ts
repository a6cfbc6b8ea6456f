import { errorMessage } from '../errors.ts';
import type { ForgeTarget } from './forge-status.ts';

/** The request each forge documents to add a repository webhook for pushes, tags and pull requests. */
export function webhookRequest(target: ForgeTarget, hookUrl: string, secret: string): { url: string; headers: Record<string, string>; body: Record<string, unknown> } {
  if (target.project.split('/').some((s) => s === '..' || s === '.' || s === '')) throw new Error(`not a project path: ${target.project}`);
  const api = target.apiUrl.replace(/\/+$/, '');
  const json = { 'content-type': 'application/json', 'user-agent': 'nestor' };
  if (target.kind === 'gitlab') {
    return {
      url: `${api}/projects/${encodeURIComponent(target.project)}/hooks`,
      headers: { ...json, 'private-token': target.token },
      body: { url: hookUrl, token: secret, push_events: true, tag_push_events: true, merge_requests_events: true, enable_ssl_verification: hookUrl.startsWith('https://') },
    };
  }
  const path = target.project.split('/').map(encodeURIComponent).join('/');
  const config = { url: hookUrl, content_type: 'json', secret, ...(target.kind === 'github' ? { insecure_ssl: '0' } : {}) };
  if (target.kind === 'github') {
    return { url: `${api}/repos/${path}/hooks`, headers: { ...json, authorization: `Bearer ${target.token}`, accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' }, body: { name: 'web', active: true, events: ['push', 'pull_request'], config } };
  }
  // Gitea and Forgejo: a tag is a `create` event there, beside `push`.
  return { url: `${api}/repos/${path}/hooks`, headers: { ...json, authorization: `token ${target.token}` }, body: { type: 'gitea', active: true, events: ['push', 'create', 'pull_request'], config } };
}

/** Adds the webhook on the forge; answers its id there, or why it could not (the repository is connected all the same). */
export async function createForgeWebhook(target: ForgeTarget, hookUrl: string, secret: string, timeoutMs = 10_000): Promise<{ created: true; id: string } | { created: false; error: string }> {
  try {
    const req = webhookRequest(target, hookUrl, secret);
    const res = await fetch(req.url, { method: 'POST', headers: req.headers, body: JSON.stringify(req.body), signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    if (!res.ok) return { created: false, error: `the forge answered ${res.status}: ${text.slice(0, 300)}` };
    const id = (JSON.parse(text || '{}') as { id?: unknown }).id;
    return { created: true, id: String(id ?? '') };
  } catch (err) {
    return { created: false, error: errorMessage(err) };
  }
}
