import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export type Provider = 'github' | 'gitea' | 'gitlab';

export interface WebhookEvent {
  provider: Provider;
  /** The provider's event name: push, ping, Push Hook, … */
  event: string;
  /** The branch pushed, without refs/heads/; undefined for events that are not pushes. */
  branch: string | undefined;
  commit: string | undefined;
  /** Every URL the payload gives for the repository, normalised for comparison. */
  repoUrls: string[];
}

type Headers = Record<string, string | string[] | undefined>;

function header(headers: Headers, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Which forge sent the request, from the headers each one always sets. */
export function providerOf(headers: Headers): Provider | undefined {
  if (header(headers, 'x-gitea-event') || header(headers, 'x-gitea-signature')) return 'gitea';
  if (header(headers, 'x-github-event') || header(headers, 'x-hub-signature-256')) return 'github';
  if (header(headers, 'x-gitlab-event') || header(headers, 'x-gitlab-token')) return 'gitlab';
  return undefined;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Whether the request was signed with `secret`: GitHub's `X-Hub-Signature-256: sha256=HMAC`,
 * Gitea's `X-Gitea-Signature: HMAC` (both HMAC-SHA256 of the raw body), GitLab's
 * `X-Gitlab-Token` (the secret itself). Compared in constant time.
 */
export function verifySignature(provider: Provider, headers: Headers, rawBody: Buffer, secret: string): boolean {
  if (provider === 'gitlab') {
    const token = header(headers, 'x-gitlab-token');
    return token !== undefined && sameSecret(token, secret);
  }
  const hmac = createHmac('sha256', secret).update(rawBody).digest('hex');
  if (provider === 'github') {
    const sig = header(headers, 'x-hub-signature-256');
    return sig !== undefined && sameSecret(sig, `sha256=${hmac}`);
  }
  const sig = header(headers, 'x-gitea-signature');
  return sig !== undefined && sameSecret(sig.toLowerCase(), hmac);
}

/** The header a provider signs with, for messages that say what was checked. */
export function signatureHeader(provider: Provider): string {
  return provider === 'github' ? 'X-Hub-Signature-256' : provider === 'gitea' ? 'X-Gitea-Signature' : 'X-Gitlab-Token';
}

/** Compares repository URLs the way people write them: case of host, `.git`, slashes, credentials. */
export function normaliseRepoUrl(url: string): string {
  let u = url.trim();
  const scp = /^([^@/]+@)?([^:/]+):(?!\/)(.+)$/.exec(u); // git@host:org/repo.git
  if (scp && !/^[a-z]+:\/\//i.test(u)) u = `ssh://${scp[1] ?? ''}${scp[2]}/${scp[3]}`;
  try {
    const parsed = new URL(u);
    if (parsed.protocol === 'file:') u = parsed.pathname;
    else u = `${parsed.hostname.toLowerCase()}${parsed.pathname}`;
  } catch {
    // a local path
  }
  return u.replace(/\/+$/, '').replace(/\.git$/, '').replace(/\/+$/, '');
}

/** Reads a push payload of any of the three forges. */
export function parseEvent(provider: Provider, headers: Headers, body: unknown): WebhookEvent {
  const payload = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  const event = header(headers, provider === 'github' ? 'x-github-event' : provider === 'gitea' ? 'x-gitea-event' : 'x-gitlab-event') ?? 'push';
  const ref = typeof payload.ref === 'string' ? payload.ref : undefined;
  const branch = ref?.startsWith('refs/heads/') ? ref.slice('refs/heads/'.length) : undefined;
  const commit = typeof payload.after === 'string' ? payload.after : typeof payload.checkout_sha === 'string' ? payload.checkout_sha : undefined;
  const urls: string[] = [];
  for (const holder of [payload.repository, payload.project]) {
    if (!holder || typeof holder !== 'object') continue;
    for (const key of ['clone_url', 'ssh_url', 'html_url', 'git_url', 'url', 'git_http_url', 'git_ssh_url', 'web_url', 'http_url']) {
      const v = (holder as Record<string, unknown>)[key];
      if (typeof v === 'string' && v) urls.push(normaliseRepoUrl(v));
    }
  }
  return { provider, event, branch, commit, repoUrls: [...new Set(urls)] };
}

/** The header each forge names a delivery by; a redelivery carries the same id. */
const DELIVERY_HEADER: Record<Provider, string> = { github: 'x-github-delivery', gitea: 'x-gitea-delivery', gitlab: 'x-gitlab-event-uuid' };

/**
 * The keys a delivery is remembered by: its delivery id, and the hash of its body. The id
 * is not signed, so a captured request replayed with a new id is still known by its body;
 * two real pushes never have the same body (their `before`/`after` commits differ).
 */
export function deliveryKeys(provider: Provider, headers: Headers, rawBody: Buffer): string[] {
  const id = header(headers, DELIVERY_HEADER[provider])?.trim();
  const keys = [`body:${createHash('sha256').update(rawBody).digest('hex')}`];
  if (id) keys.unshift(`${provider}:${id.slice(0, 200)}`);
  return keys;
}
