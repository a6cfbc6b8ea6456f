import { normaliseRepoUrl, providerOf, type Provider } from '../gitops/webhook.ts';

/**
 * A forge's webhook delivery, read as what a CI server starts a pipeline for: a push of a
 * branch, a tag, or a pull (merge) request opened or given new commits, in each forge's own
 * documented payload shape (GitHub; GitLab's "Push Hook", "Tag Push Hook", "Merge Request
 * Hook"; Gitea's and Forgejo's, which follow GitHub's). Pure: no I/O.
 */

export type TriggerEvent = 'push' | 'tag' | 'pull_request';

export interface Trigger {
  event: TriggerEvent;
  /** refs/heads/main, refs/tags/v1, refs/pull/N/head (GitHub, Gitea) or refs/merge-requests/N/head (GitLab). */
  ref: string;
  /** A push's branch; a pull request's target branch. */
  branch?: string;
  tag?: string;
  /** The commit to build: a push's `after` (a tag's commit, not its tag object), a pull request's head. */
  commit: string;
  /** A push's previous commit (absent for a new branch); a pull request's base when the payload has it. */
  before?: string;
  /** The head commit's message; '' when the payload has none (GitHub's and Gitea's pull requests). */
  message: string;
  author: string;
  authorEmail?: string;
  pullRequest?: { number: number; title: string; sourceBranch: string; targetBranch: string; fromFork: boolean; headRepoUrl?: string; action: string };
  /** Every URL the payload gives for the (base) repository, normalised. */
  repoUrls: string[];
  pushOptions?: string[];
}

export type Parsed = { kind: 'trigger'; trigger: Trigger } | { kind: 'ignored'; reason: string };

type Headers = Record<string, string | string[] | undefined>;
type Obj = Record<string, unknown>;

const ZERO = /^0+$/;
const SHA = /^[0-9a-f]{40,64}$/;

function header(headers: Headers, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
/** A pull request's number: a positive integer, or undefined. */
const prNumber = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) && v > 0 ? v : undefined);
/** GitLab writes "[REDACTED]" for a user who keeps their email private. */
const email = (v: unknown): string | undefined => (str(v) && v !== '[REDACTED]' ? (v as string) : undefined);

/** The forge that sent the request; Forgejo sends X-Forgejo-* beside (or instead of) Gitea's headers. */
export function forgeOf(headers: Headers): Provider | undefined {
  if (header(headers, 'x-forgejo-event') || header(headers, 'x-forgejo-signature')) return 'gitea';
  return providerOf(headers);
}

function eventName(provider: Provider, headers: Headers): string {
  if (provider === 'github') return header(headers, 'x-github-event') ?? '';
  if (provider === 'gitlab') return header(headers, 'x-gitlab-event') ?? '';
  return header(headers, 'x-gitea-event') ?? header(headers, 'x-forgejo-event') ?? '';
}

function repoUrls(...holders: unknown[]): string[] {
  const urls = new Set<string>();
  for (const holder of holders) {
    const h = obj(holder);
    for (const key of ['clone_url', 'ssh_url', 'html_url', 'git_url', 'url', 'git_http_url', 'git_ssh_url', 'web_url', 'http_url']) {
      const v = str(h[key]);
      if (v) urls.add(normaliseRepoUrl(v));
    }
  }
  return [...urls];
}

export function parseTrigger(provider: Provider, headers: Headers, body: unknown): Parsed {
  const payload = obj(body);
  const event = eventName(provider, headers);
  if (provider === 'gitlab') {
    if (event === 'Push Hook' || event === 'Tag Push Hook') return push(payload, 'gitlab');
    if (event === 'Merge Request Hook') return gitlabMergeRequest(payload);
  } else {
    if (event === 'push') return push(payload, provider);
    if (event === 'pull_request') return pullRequest(payload);
  }
  return { kind: 'ignored', reason: `event ${event || '(none)'} is not a trigger (push, tag and pull request events are)` };
}

function push(p: Obj, provider: Provider): Parsed {
  const ref = str(p.ref);
  const after = str(p.after);
  if (!ref || !/^refs\/(heads|tags)\//.test(ref)) return { kind: 'ignored', reason: `the push names no branch or tag ref (${ref ?? 'none'})` };
  if (p.deleted === true || (after && ZERO.test(after))) return { kind: 'ignored', reason: `${ref} was deleted: nothing to build` };
  const isTag = ref.startsWith('refs/tags/');
  const name = ref.replace(/^refs\/(heads|tags)\//, '');
  const headCommit = obj(p.head_commit);
  // For an annotated tag `after` is the tag object, which no forge's status API or checkout
  // takes as a commit: GitLab resolves it in checkout_sha, GitHub and Gitea in head_commit.
  const commit = provider === 'gitlab' ? (str(p.checkout_sha) ?? after) : isTag ? (str(headCommit.id) ?? after) : after;
  if (!commit) return { kind: 'ignored', reason: `the push of ${ref} names no commit (no "after")` };
  if (!SHA.test(commit)) return { kind: 'ignored', reason: `the push's commit ${commit} is not a commit id` };
  const commits = Array.isArray(p.commits) ? p.commits.map(obj) : [];
  // GitHub gives head_commit; GitLab and Gitea the list of commits, the pushed one among them.
  const head = Object.keys(headCommit).length ? headCommit : (commits.find((c) => c.id === commit) ?? commits.at(-1) ?? {});
  const author = obj(head.author);
  const pusher = obj(p.pusher);
  const before = str(p.before);
  const authorEmail = email(author.email) ?? email(p.user_email) ?? email(pusher.email);
  return {
    kind: 'trigger',
    trigger: {
      event: isTag ? 'tag' : 'push',
      ref,
      ...(isTag ? { tag: name } : { branch: name }),
      commit,
      ...(before && !ZERO.test(before) ? { before } : {}),
      message: str(head.message) ?? str(p.message) ?? '',
      author: str(author.name) ?? str(p.user_name) ?? str(pusher.name) ?? str(pusher.login) ?? str(p.user_username) ?? str(obj(p.sender).login) ?? '',
      ...(authorEmail ? { authorEmail } : {}),
      repoUrls: repoUrls(p.repository, p.project),
      ...(pushOptions(p, provider) ?? {}),
    },
  };
}

/** GitLab's push options (`git push -o ci.skip`), where a payload carries them. */
function pushOptions(p: Obj, provider: Provider): { pushOptions: string[] } | undefined {
  if (provider !== 'gitlab') return undefined;
  const raw = p.push_options;
  if (Array.isArray(raw)) return { pushOptions: raw.filter((o): o is string => typeof o === 'string') };
  const ci = obj(obj(raw).ci);
  return 'skip' in ci ? { pushOptions: ['ci.skip'] } : undefined;
}

const PR_ACTIONS = new Set(['opened', 'synchronize', 'synchronized', 'reopened']);

function pullRequest(p: Obj): Parsed {
  const action = str(p.action) ?? '';
  if (!PR_ACTIONS.has(action)) return { kind: 'ignored', reason: `pull request action ${action || '(none)'} runs nothing (opened, synchronize and reopened do)` };
  const pr = obj(p.pull_request);
  const head = obj(pr.head);
  const base = obj(pr.base);
  const number = prNumber(pr.number) ?? prNumber(p.number);
  const sha = str(head.sha);
  const target = str(base.ref);
  if (!sha || !SHA.test(sha) || !target || number === undefined) return { kind: 'ignored', reason: 'the pull request payload lacks its number, head commit or base branch' };
  const headRepo = obj(head.repo);
  const baseRepo = obj(base.repo);
  // A head repository that is gone (null), unnamed, or another than the base is a fork: never trusted.
  const headName = str(headRepo.full_name);
  const fromFork = headName === undefined || headName !== str(baseRepo.full_name);
  const user = obj(pr.user);
  const baseSha = str(base.sha);
  return {
    kind: 'trigger',
    trigger: {
      event: 'pull_request',
      ref: `refs/pull/${number}/head`,
      branch: target,
      commit: sha,
      ...(baseSha && !ZERO.test(baseSha) ? { before: baseSha } : {}),
      // The payload carries no commit message; the title is in pullRequest, and is not
      // read for [skip ci] (GitHub reads the head commit's message, not the title).
      message: '',
      author: str(user.login) ?? str(obj(p.sender).login) ?? '',
      pullRequest: { number, title: str(pr.title) ?? '', sourceBranch: str(head.ref) ?? '', targetBranch: target, fromFork, ...(str(headRepo.clone_url) ? { headRepoUrl: str(headRepo.clone_url)! } : {}), action },
      repoUrls: repoUrls(p.repository, baseRepo),
    },
  };
}

function gitlabMergeRequest(p: Obj): Parsed {
  const a = obj(p.object_attributes);
  const action = str(a.action) ?? '';
  // "update" also comes for a new title or label: only one with new commits (oldrev) runs.
  const runs = action === 'open' || action === 'reopen' || (action === 'update' && str(a.oldrev) !== undefined);
  if (!runs) return { kind: 'ignored', reason: `merge request action ${action || '(none)'} runs nothing (open, reopen and update with new commits do)` };
  const last = obj(a.last_commit);
  const sha = str(last.id);
  const number = prNumber(a.iid);
  const target = str(a.target_branch);
  if (!sha || !SHA.test(sha) || !target || number === undefined) return { kind: 'ignored', reason: 'the merge request payload lacks its iid, last commit or target branch' };
  const source = obj(a.source);
  const sourceId = a.source_project_id;
  const user = obj(p.user);
  const lastAuthor = obj(last.author);
  const authorEmail = email(lastAuthor.email) ?? email(user.email);
  return {
    kind: 'trigger',
    trigger: {
      event: 'pull_request',
      ref: `refs/merge-requests/${number}/head`,
      branch: target,
      commit: sha,
      message: str(last.message) ?? '',
      author: str(lastAuthor.name) ?? str(user.name) ?? str(user.username) ?? '',
      ...(authorEmail ? { authorEmail } : {}),
      pullRequest: {
        number,
        title: str(a.title) ?? '',
        sourceBranch: str(a.source_branch) ?? '',
        targetBranch: target,
        // Without both project ids the source cannot be shown to be the target: a fork.
        fromFork: typeof sourceId !== 'number' || sourceId !== a.target_project_id,
        ...(str(source.git_http_url) ? { headRepoUrl: str(source.git_http_url)! } : {}),
        action,
      },
      repoUrls: repoUrls(p.project, a.target),
    },
  };
}

/** The markers the forges honour in a commit message to run no CI for it. */
const SKIP_MARKERS = ['[skip ci]', '[ci skip]', '[no ci]', '[skip actions]', '[actions skip]', '***no_ci***'];

/** Why the trigger runs nothing (a skip marker in its message, or GitLab's `-o ci.skip`); undefined when it runs. */
export function skipReason(trigger: Trigger): string | undefined {
  if (trigger.pushOptions?.includes('ci.skip')) return 'pushed with -o ci.skip';
  const message = trigger.message.toLowerCase();
  const marker = SKIP_MARKERS.find((m) => message.includes(m));
  return marker ? `the commit message says ${marker}` : undefined;
}
