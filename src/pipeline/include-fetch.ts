import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where a pipeline's content from outside its repository comes from (GitLab's `include:
 * project` and `include: remote`), and what may be fetched: only from hosts an operator
 * allows, never from a private address unless allowed, with a size and a time limit, cached.
 *
 * The pipeline readers are synchronous (a file is compiled in one call, on the CLI and in the
 * server's compile threads), so a fetch runs in a child process that this module waits for.
 */
export interface IncludeSource {
  /** The repository the pipeline is read from: `include: local` files are read here. */
  repoDir?: string;
  /** Base URL of the Git server of `include: project`: `${gitBase}/${project}.git` is fetched. */
  gitBase?: string;
  /** Host names (`gitlab.com`) that `remote` and `project` includes may be fetched from. */
  allowedHosts: string[];
  /** Whether a host may resolve to a private, loopback or link-local address. */
  allowPrivate: boolean;
  /** Where fetched files are kept. */
  cacheDir: string;
  /** Bytes one fetched file may have. */
  maxBytes: number;
  /** How long one fetch may take. */
  timeoutMs: number;
  /** How long a file fetched from a branch (not a commit) is reused, in milliseconds. */
  cacheTtlMs: number;
  /**
   * Where GitHub's `uses: owner/repo@ref` actions and reusable workflows are fetched from:
   * `${actionsBase}/${owner}/${repo}` (GitHub's public forge unless the operator names another,
   * a `file://` folder of bare repositories included). Its host is allowed by being named here.
   */
  actionsBase: string;
}

export const DEFAULT_INCLUDE_SOURCE: Readonly<IncludeSource> = Object.freeze({
  allowedHosts: [],
  allowPrivate: false,
  cacheDir: join(homedir(), '.cache', 'nestor', 'includes'),
  maxBytes: 1024 * 1024,
  timeoutMs: 10_000,
  cacheTtlMs: 5 * 60_000,
  actionsBase: 'https://github.com',
});

/** The operator's settings: NESTOR_INCLUDE_HOSTS (comma-separated), NESTOR_INCLUDE_GIT_BASE, NESTOR_INCLUDE_ALLOW_PRIVATE=1, NESTOR_INCLUDE_CACHE, NESTOR_ACTIONS_URL. */
export function includeSourceFromEnv(env: NodeJS.ProcessEnv): Partial<IncludeSource> {
  const hosts = (env.NESTOR_INCLUDE_HOSTS ?? '').split(',').map((h) => h.trim().toLowerCase()).filter(Boolean);
  return {
    ...(hosts.length ? { allowedHosts: hosts } : {}),
    ...(env.NESTOR_INCLUDE_GIT_BASE ? { gitBase: env.NESTOR_INCLUDE_GIT_BASE.replace(/\/+$/, '') } : {}),
    ...(env.NESTOR_INCLUDE_ALLOW_PRIVATE === '1' ? { allowPrivate: true } : {}),
    ...(env.NESTOR_INCLUDE_CACHE ? { cacheDir: env.NESTOR_INCLUDE_CACHE } : {}),
    ...(env.NESTOR_ACTIONS_URL ? { actionsBase: env.NESTOR_ACTIONS_URL.replace(/\/+$/, '') } : {}),
  };
}

/** Why content could not be fetched; `refused` when the operator's settings forbid it (not a network failure). */
export class FetchError extends Error {
  readonly refused: boolean;
  constructor(message: string, refused = false) {
    super(message);
    this.refused = refused;
  }
}

/** Whether a URL's host may be fetched from at all (before any lookup). */
export function hostAllowed(url: URL, source: IncludeSource): boolean {
  if (url.protocol === 'file:') return source.gitBase !== undefined && source.gitBase.startsWith('file:');
  return source.allowedHosts.includes(url.hostname.toLowerCase());
}

/** The text of an HTTPS URL (`include: remote`). */
export function fetchRemote(url: string, source: IncludeSource): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new FetchError(`${url} is not a URL`, true);
  }
  if (parsed.protocol !== 'https:' && !(parsed.protocol === 'http:' && source.allowPrivate)) throw new FetchError(`${url}: only https URLs are fetched`, true);
  if (!hostAllowed(parsed, source)) throw new FetchError(`${parsed.hostname} is not among the hosts includes may come from (NESTOR_INCLUDE_HOSTS)`, true);
  return cached(source, `remote\0${url}`, false, () => child(source, { kind: 'http', url }));
}

/** A file of a project at a ref (`include: project`), fetched from the Git server at `gitBase`. */
export function fetchProjectFile(project: string, ref: string | undefined, file: string, source: IncludeSource): string {
  if (!source.gitBase) throw new FetchError('no Git server is set for project includes (NESTOR_INCLUDE_GIT_BASE)', true);
  const base = new URL(source.gitBase);
  if (!hostAllowed(base, source)) throw new FetchError(`${base.hostname || source.gitBase} is not among the hosts includes may come from (NESTOR_INCLUDE_HOSTS)`, true);
  if (!/^[\w.-]+(\/[\w.-]+)+$/.test(project) || project.split('/').includes('..')) throw new FetchError(`"${project}" is not a project path`, true);
  if (ref !== undefined && !/^[\w][\w./-]*$/.test(ref)) throw new FetchError(`"${ref}" is not a ref`, true);
  const path = file.replace(/^\/+/, '');
  const pinned = ref !== undefined && /^[0-9a-f]{40}$/.test(ref);
  return cached(source, `project\0${source.gitBase}\0${project}\0${ref ?? 'HEAD'}\0${path}`, pinned, () =>
    child(source, { kind: 'git', url: `${source.gitBase}/${project}.git`, ref: ref ?? 'HEAD', path, cacheDir: join(source.cacheDir, 'git') }),
  );
}

/** Bytes an action's folder may have as fetched (a bundled JavaScript action is a few MB): it is kept by commit and copied into each job that uses it. */
export const MAX_ACTION_BYTES = 64 * 1024 * 1024;

/** An action's folder as fetched: where it is kept (by commit), and that commit. */
export interface FetchedAction {
  dir: string;
  commit: string;
}

const unreachable = new Map<string, string>();
/**
 * What this process fetched, and when: a workflow compiled once per matrix combination asks
 * again for each. A commit is kept for good; a tag or branch, as long as a fetched file is.
 */
const fetchedTrees = new Map<string, { tree: FetchedAction; at: number }>();

/**
 * The folder `path` of `owner/repo` at `ref`, fetched with git from the operator's actions
 * base into a folder named by its commit, which is then reused for ever. A base that did not
 * answer is not asked again by this process.
 */
export function fetchActionTree(owner: string, repo: string, ref: string, path: string, source: IncludeSource): FetchedAction {
  const base = new URL(source.actionsBase);
  if (base.protocol !== 'https:' && base.protocol !== 'file:' && !(base.protocol === 'http:' && source.allowPrivate)) throw new FetchError(`${source.actionsBase}: actions are fetched over https (or from a file:// folder an operator names)`, true);
  if (!/^[\w.-]+$/.test(owner) || !/^[\w.-]+$/.test(repo) || owner.startsWith('.') || repo.startsWith('.')) throw new FetchError(`"${owner}/${repo}" is not a repository name`, true);
  if (!/^[\w][\w./-]*$/.test(ref) || ref.includes('..')) throw new FetchError(`"${ref}" is not a ref`, true);
  if (path.split('/').includes('..')) throw new FetchError(`"${path}" leads out of the repository`, true);
  const known = unreachable.get(source.actionsBase);
  if (known) throw new FetchError(known);
  const key = [source.actionsBase, source.cacheDir, owner, repo, ref, path].join('\0');
  const fetched = fetchedTrees.get(key);
  const fresh = fetched && (/^[0-9a-f]{40}$/.test(ref) || Date.now() - fetched.at < source.cacheTtlMs);
  if (fetched && fresh && existsSync(fetched.tree.dir)) return fetched.tree;
  const url = `${source.actionsBase}/${owner}/${repo}${base.protocol === 'file:' ? '' : '.git'}`;
  try {
    const out = child({ ...source, maxBytes: MAX_ACTION_BYTES }, { kind: 'tree', url, ref, path, cacheDir: join(source.cacheDir, 'git'), into: join(source.cacheDir, 'actions', owner, repo) });
    const tree = JSON.parse(out) as FetchedAction;
    fetchedTrees.set(key, { tree, at: Date.now() });
    return tree;
  } catch (err) {
    if (err instanceof FetchError && !err.refused && /resolve|getaddrinfo|ENOTFOUND|EAI_AGAIN|not be reached|timed out|within/i.test(err.message)) unreachable.set(source.actionsBase, err.message);
    throw err;
  }
}

/** A fetched file from the cache when fresh enough (a commit's forever), else fetched and kept. */
function cached(source: IncludeSource, key: string, forever: boolean, fetch: () => string): string {
  const file = join(source.cacheDir, createHash('sha256').update(key).digest('hex'));
  if (existsSync(file) && (forever || Date.now() - statSync(file).mtimeMs < source.cacheTtlMs)) return readFileSync(file, 'utf8');
  const text = fetch();
  mkdirSync(source.cacheDir, { recursive: true });
  writeFileSync(file, text);
  return text;
}

type Job = { kind: 'http'; url: string } | { kind: 'git'; url: string; ref: string; path: string; cacheDir: string } | { kind: 'tree'; url: string; ref: string; path: string; cacheDir: string; into: string };

/** Runs the fetch in a child process (this file run as a script) and waits for it, within the time limit. */
function child(source: IncludeSource, job: Job): string {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url)], {
    input: JSON.stringify({ job, allowPrivate: source.allowPrivate, maxBytes: source.maxBytes, timeoutMs: source.timeoutMs }),
    encoding: 'utf8',
    timeout: source.timeoutMs + 2000,
    maxBuffer: source.maxBytes * 2 + 65536,
  });
  if (r.error || r.status === null) throw new FetchError(`did not finish within ${source.timeoutMs} ms`);
  if (r.status !== 0) throw new FetchError(r.stderr.trim().split('\n').pop() || `failed (exit ${r.status})`, r.status === 3);
  return r.stdout;
}

/** Loopback, private (RFC 1918, ULA), link-local, CGNAT and unspecified addresses. */
export function isPrivateAddress(address: string): boolean {
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIP(v4) === 4) {
    const [a, b] = v4.split('.').map(Number) as [number, number];
    return a === 10 || a === 127 || a === 0 || (a === 169 && b === 254) || (a === 172 && b >= 16 && b <= 31) || (a === 192 && b === 168) || (a === 100 && b >= 64 && b <= 127);
  }
  const v6 = address.toLowerCase();
  return v6 === '::1' || v6 === '::' || v6.startsWith('fc') || v6.startsWith('fd') || v6.startsWith('fe80');
}

// ---- the child process -------------------------------------------------------------------

async function checkHost(hostname: string, allowPrivate: boolean): Promise<void> {
  if (allowPrivate) return;
  const addresses = isIP(hostname) ? [{ address: hostname }] : await lookup(hostname, { all: true });
  const bad = addresses.find((a) => isPrivateAddress(a.address));
  if (bad) throw Object.assign(new Error(`${hostname} resolves to the private address ${bad.address} (allow it with NESTOR_INCLUDE_ALLOW_PRIVATE=1)`), { refused: true });
}

async function runChild(): Promise<void> {
  const input = JSON.parse(readFileSync(0, 'utf8')) as { job: Job; allowPrivate: boolean; maxBytes: number; timeoutMs: number };
  const { job, allowPrivate, maxBytes, timeoutMs } = input;
  const url = new URL(job.url);
  if (url.protocol !== 'file:') await checkHost(url.hostname, allowPrivate);
  if (job.kind === 'http') {
    const res = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) throw new Error(`${job.url}: HTTP ${res.status}`);
    const body = await res.arrayBuffer();
    if (body.byteLength > maxBytes) throw new Error(`${job.url} is ${body.byteLength} bytes, more than the ${maxBytes} an include may have`);
    process.stdout.write(Buffer.from(body).toString('utf8'));
    return;
  }
  const dir = join(job.cacheDir, createHash('sha256').update(job.url).digest('hex'));
  const git = (args: string[]) => {
    const r = spawnSync('git', ['--git-dir', dir, ...args], { encoding: 'utf8', timeout: timeoutMs, maxBuffer: maxBytes * 2 + 65536 });
    if (r.status !== 0) throw new Error(`git ${args[0]}: ${(r.stderr || r.error?.message || '').trim().split('\n').pop()}`);
    return r.stdout;
  };
  if (!existsSync(dir)) {
    mkdirSync(dir, { recursive: true });
    git(['init', '-q', '--bare']);
  }
  git(['fetch', '-q', '--depth', '1', '--no-tags', job.url, job.ref]);
  if (job.kind === 'tree') {
    const commit = git(['rev-parse', 'FETCH_HEAD']).trim();
    // By commit and folder: an action and the workflows of one repository are fetched apart.
    const target = join(job.into, job.path ? `${commit}-${createHash('sha256').update(job.path).digest('hex').slice(0, 12)}` : commit);
    if (!existsSync(target)) {
      const archive = spawnSync('git', ['--git-dir', dir, 'archive', '--format=tar', commit, ...(job.path ? [job.path] : [])], { timeout: timeoutMs, maxBuffer: maxBytes });
      if (archive.error && (archive.error as NodeJS.ErrnoException).code === 'ENOBUFS') throw new Error(`${job.path || 'the repository'} at ${commit.slice(0, 12)} is more than the ${maxBytes} bytes an action may have`);
      if (archive.status !== 0) throw new Error(`git archive: ${String(archive.stderr).trim().split('\n').pop()}`);
      mkdirSync(`${target}.part`, { recursive: true });
      const untar = spawnSync('tar', ['-x', '-C', `${target}.part`], { input: archive.stdout, timeout: timeoutMs });
      if (untar.status !== 0) throw new Error(`tar: ${String(untar.stderr).trim()}`);
      renameSync(`${target}.part`, target);
    }
    process.stdout.write(JSON.stringify({ dir: job.path ? join(target, job.path) : target, commit }));
    return;
  }
  const size = Number(git(['cat-file', '-s', `FETCH_HEAD:${job.path}`]).trim());
  if (size > maxBytes) throw new Error(`${job.path} is ${size} bytes, more than the ${maxBytes} an include may have`);
  process.stdout.write(git(['show', `FETCH_HEAD:${job.path}`]));
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  runChild().catch((err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exit((err as { refused?: boolean }).refused ? 3 : 1);
  });
}
