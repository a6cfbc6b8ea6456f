import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { NestorError } from '../errors.ts';
import { redactUrls } from '../secrets/redact.ts';
import type { GitCredential, RepoSource } from './repo-url.ts';

export class GitError extends NestorError {
  readonly stderr: string;
  constructor(what: string, url: string, stderr: string) {
    // Git quotes the URL it was given; whatever credential a URL carries stays out of the message.
    const clean = redactUrls(stderr);
    const lines = clean.trim().split(/\r?\n/).filter(Boolean);
    // The cause is often before git's own closing lines ("Permission denied (publickey)", a DNS error).
    const cause = lines.find((l) => !/^fatal: Could not read from remote|^Please make sure|^and the repository exists/.test(l));
    const last = [...new Set([...(cause ? [cause] : []), ...lines.slice(-3)])].join(' / ') || 'no output';
    super(
      'NESTOR_GIT_FAILED',
      `git ${what} of ${redactUrls(url)} failed: ${last}`,
      'Check that the repository URL and branch are right and that this server can reach and read it (for ssh:// URLs, a deploy key the forge accepts: a repository\'s --ssh-key, an application\'s key in ~/.ssh; for https:// ones, credentials in the URL, which Nestor keeps apart from it, sealed).',
    );
    this.stderr = clean;
  }
}

/** Protocols Git may use; `ext::` (runs a command) and others are refused by Git itself. */
const ALLOWED_PROTOCOLS = 'file:git:http:https:ssh';
const TIMEOUT_MS = 120_000;

/**
 * Answers Git's credential request from the environment: the password reaches Git through
 * its own credential protocol, never through the URL (which Git quotes in its errors) nor the
 * command line (which any local user can read in `ps`).
 */
const CREDENTIAL_HELPER = '!f() { test "$1" = get || exit 0; printf "username=%s\\npassword=%s\\n" "$NESTOR_GIT_USERNAME" "$NESTOR_GIT_PASSWORD"; }; f';

/** The configuration that gives Git `credential` for `url` alone, and no other helper's. */
function credentialEnv(url: string, credential: GitCredential): NodeJS.ProcessEnv {
  return {
    GIT_CONFIG_COUNT: '2',
    // The empty helper first empties the list: no helper from ~/.gitconfig sees or stores it.
    GIT_CONFIG_KEY_0: 'credential.helper',
    GIT_CONFIG_VALUE_0: '',
    GIT_CONFIG_KEY_1: `credential.${new URL(url).origin}.helper`,
    GIT_CONFIG_VALUE_1: CREDENTIAL_HELPER,
    NESTOR_GIT_USERNAME: credential.username,
    NESTOR_GIT_PASSWORD: credential.password,
  };
}

/**
 * Environment for every git command: the server's own (`base`: PATH, HOME, SSH_AUTH_SOCK,
 * proxies, GIT_SSH_COMMAND, as the CLI was started with), never prompting, never running
 * commands through URLs.
 */
function gitEnv(base: NodeJS.ProcessEnv, repo?: RepoSource): NodeJS.ProcessEnv {
  return {
    ...(repo?.credential ? credentialEnv(repo.url, repo.credential) : {}),
    ...base,
    GIT_TERMINAL_PROMPT: '0',
    GIT_ASKPASS: 'true',
    SSH_ASKPASS: 'true',
    GIT_SSH_COMMAND: base.GIT_SSH_COMMAND ?? 'ssh -o BatchMode=yes -o StrictHostKeyChecking=accept-new',
    GIT_ALLOW_PROTOCOL: ALLOWED_PROTOCOLS,
    GIT_CONFIG_NOSYSTEM: '1',
    LC_ALL: 'C',
  };
}

/** Refuses URLs Git would treat as options or as commands, before Git sees them. */
export function checkRepoUrl(url: string): void {
  const bad = url.startsWith('-') ? 'starts with "-"' : /^ext::/i.test(url) ? 'uses the ext:: protocol, which runs commands' : /[\0\n\r]/.test(url) ? 'contains control characters' : undefined;
  if (bad) throw new NestorError('NESTOR_REPO_URL_REFUSED', `Repository URL ${JSON.stringify(redactUrls(url))} ${bad}`, 'Use an https://, ssh://, git:// or file:// URL, or a local path.');
}

function git(base: NodeJS.ProcessEnv, args: string[], what: string, url: string, repo?: RepoSource): Promise<string> {
  const key = repo?.sshKey ? deployKeyEnv(repo.sshKey) : undefined;
  return new Promise<string>((resolve, reject) => {
    execFile('git', ['-c', 'protocol.ext.allow=never', ...args], { env: { ...gitEnv(base, repo), ...key?.env }, timeout: TIMEOUT_MS, maxBuffer: 16 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new GitError(what, url, stderr || err.message));
      else resolve(stdout);
    });
  }).finally(() => key?.remove());
}

/**
 * ssh with the repository's deploy key and nothing else: not the server's keys (no agent, no
 * ~/.ssh/config, IdentitiesOnly), the key in a file of its own (0600, in a 0700 directory)
 * only while the command runs. Host keys are the server user's known_hosts, a new host's
 * accepted on first use and checked ever after.
 */
function deployKeyEnv(key: string): { env: NodeJS.ProcessEnv; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'nestor-key-'));
  const file = join(dir, 'id');
  writeFileSync(file, key.endsWith('\n') ? key : `${key}\n`, { mode: 0o600 });
  const quote = (s: string) => `'${s.replace(/'/g, "'\\''")}'`;
  return {
    env: {
      GIT_SSH_COMMAND: `ssh -F /dev/null -i ${quote(file)} -o IdentitiesOnly=yes -o IdentityAgent=none -o BatchMode=yes -o StrictHostKeyChecking=accept-new`,
      SSH_AUTH_SOCK: '',
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** The commit a branch points at, asked of the remote without fetching anything; `env` as for RepositoryCache. */
export async function remoteHead(repo: RepoSource, branch: string, env: NodeJS.ProcessEnv): Promise<string> {
  const { url } = repo;
  checkRepoUrl(url);
  const out = await git(env, ['ls-remote', '--heads', '--', url, `refs/heads/${branch}`], 'ls-remote', url, repo);
  const sha = out.split('\n').find((l) => l.endsWith(`\trefs/heads/${branch}`))?.split('\t')[0];
  if (!sha) throw new GitError('ls-remote', url, `branch ${branch} not found`);
  return sha;
}

/**
 * Every branch and tag of the remote, by full ref name, asked without fetching anything (a
 * tag's commit, where the tag is annotated, from its peeled `^{}` line).
 */
export async function remoteRefs(repo: RepoSource, env: NodeJS.ProcessEnv): Promise<Record<string, string>> {
  checkRepoUrl(repo.url);
  const out = await git(env, ['ls-remote', '--heads', '--tags', '--', repo.url], 'ls-remote', repo.url, repo);
  const refs: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const [sha, ref] = line.split('\t');
    if (!sha || !ref) continue;
    if (ref.endsWith('^{}')) refs[ref.slice(0, -3)] = sha;
    else refs[ref] ??= sha;
  }
  return refs;
}

/**
 * A bare mirror per repository under `cacheDir`, so each sync fetches only what is new, and
 * `export` writes one commit's files into a directory of their own.
 */
export class RepositoryCache {
  private readonly cacheDir: string;
  private readonly env: NodeJS.ProcessEnv;

  /** `env`: the environment git runs in, the server's own (given by the CLI). */
  constructor(cacheDir: string, env: NodeJS.ProcessEnv) {
    this.cacheDir = cacheDir;
    this.env = env;
  }

  /** The mirror's directory (a bare repository), to fetch from with file://. */
  pathOf(url: string): string {
    return this.dirOf(url);
  }

  private dirOf(url: string): string {
    return join(this.cacheDir, createHash('sha256').update(url).digest('hex').slice(0, 24));
  }

  /** Fetches `branch` and returns the commit it points at. */
  async fetch(repo: RepoSource, branch: string): Promise<string> {
    const { url } = repo;
    checkRepoUrl(url);
    const dir = this.dirOf(url);
    if (!existsSync(join(dir, 'HEAD'))) {
      mkdirSync(dir, { recursive: true });
      await git(this.env, ['init', '--quiet', '--bare', dir], 'init', url);
    }
    await git(this.env, ['--git-dir', dir, 'fetch', '--quiet', '--no-tags', '--force', '--', url, `+refs/heads/${branch}:refs/heads/${branch}`], 'fetch', url, repo);
    return (await git(this.env, ['--git-dir', dir, 'rev-parse', '--verify', `refs/heads/${branch}^{commit}`], 'rev-parse', url)).trim();
  }

  /**
   * Fetches full refs (refs/heads/main, refs/tags/v1, refs/pull/7/head) into the mirror under
   * their own names; a ref the remote lacks fails the fetch. Answers the commit of each.
   */
  /** Fetches `refs` into the mirror of `repo`, from `from` (default: the repository itself; a runner fetches from its server). */
  async fetchRefs(repo: RepoSource, refs: string[], from: RepoSource = repo): Promise<Record<string, string>> {
    const { url } = repo;
    checkRepoUrl(url);
    checkRepoUrl(from.url);
    for (const ref of refs) if (!/^refs\/[\w./-]+$/.test(ref) || ref.includes('..')) throw new GitError('fetch', url, `not a ref name: ${ref}`);
    const dir = this.dirOf(url);
    if (!existsSync(join(dir, 'HEAD'))) {
      mkdirSync(dir, { recursive: true });
      await git(this.env, ['init', '--quiet', '--bare', dir], 'init', url);
    }
    await git(this.env, ['--git-dir', dir, 'fetch', '--quiet', '--no-tags', '--force', '--', from.url, ...refs.map((r) => `+${r}:${r}`)], 'fetch', from.url, from);
    const out: Record<string, string> = {};
    for (const ref of refs) out[ref] = (await git(this.env, ['--git-dir', dir, 'rev-parse', '--verify', `${ref}^{commit}`], 'rev-parse', url)).trim();
    return out;
  }

  /** Whether the mirror has the commit (a push's `before` may be gone after a force push). */
  async hasCommit(url: string, commit: string): Promise<boolean> {
    if (!/^[0-9a-f]{40,64}$/.test(commit)) return false;
    return git(this.env, ['--git-dir', this.dirOf(url), 'cat-file', '-e', `${commit}^{commit}`], 'cat-file', url).then(() => true, () => false);
  }

  /** The best common ancestor of two commits, or undefined when they share none. */
  async mergeBase(url: string, a: string, b: string): Promise<string | undefined> {
    return git(this.env, ['--git-dir', this.dirOf(url), 'merge-base', a, b], 'merge-base', url).then((o) => o.trim() || undefined, () => undefined);
  }

  /** The paths that differ between two commits (renames as both names). */
  async changedPaths(url: string, from: string, to: string): Promise<string[]> {
    const out = await git(this.env, ['--git-dir', this.dirOf(url), 'diff', '--name-only', '-z', '--no-renames', from, to], 'diff', url);
    return out.split('\0').filter(Boolean);
  }

  /** The subject and author of a commit: what a pipeline shows when its trigger did not say. */
  async commitInfo(url: string, commit: string): Promise<{ message: string; author: string; authorEmail: string }> {
    const out = await git(this.env, ['--git-dir', this.dirOf(url), 'log', '-1', '--format=%an%x00%ae%x00%B', commit], 'log', url);
    const [author = '', authorEmail = '', ...message] = out.split('\0');
    return { author, authorEmail, message: message.join('\0').trim() };
  }

  /** Writes the files of `commit` (fetched before) into `target`, links and modes intact. */
  async export(url: string, commit: string, target: string): Promise<void> {
    if (!/^[0-9a-f]{40,64}$/.test(commit)) throw new GitError('archive', url, `not a commit id: ${commit}`);
    mkdirSync(target, { recursive: true });
    const dir = this.dirOf(url);
    await new Promise<void>((resolve, reject) => {
      const archive = spawn('git', ['--git-dir', dir, 'archive', '--format=tar', commit], { env: gitEnv(this.env), stdio: ['ignore', 'pipe', 'pipe'] });
      const untar = spawn('tar', ['-x', '-C', target], { stdio: ['pipe', 'ignore', 'pipe'] });
      let stderr = '';
      archive.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      untar.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      archive.stdout.pipe(untar.stdin);
      let pending = 2;
      let failed = false;
      const done = (code: number | null) => {
        if (code !== 0) failed = true;
        if (--pending === 0) (failed ? reject(new GitError('archive', url, stderr)) : resolve());
      };
      archive.on('close', done);
      untar.on('close', done);
      archive.on('error', reject);
      untar.on('error', reject);
    });
  }

  /** The subject line and author of a commit, for deployment records. */
  async describe(url: string, commit: string): Promise<string> {
    return (await git(this.env, ['--git-dir', this.dirOf(url), 'log', '-1', '--format=%s (%an)', commit], 'log', url)).trim();
  }
}
