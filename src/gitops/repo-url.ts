import { realpathSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NestorError } from '../errors.ts';
import { redactUrls } from '../secrets/redact.ts';
import { inside } from './repo-paths.ts';

/** What Git is given to log in to an http(s) repository, kept apart from the URL and sealed in the store. */
export interface GitCredential {
  username: string;
  password: string;
}

/** A repository as Git is asked for it: a URL that carries no secret, and the credential, if any. */
export interface RepoSource {
  url: string;
  credential: GitCredential | null;
  /** An ssh:// repository's own deploy key (a private key, OpenSSH or PEM): the only key git's ssh is given. */
  sshKey?: string | null;
}

/**
 * Takes the credentials out of a repository URL: `https://ci:TOKEN@host/x.git` is stored and
 * shown as `https://host/x.git`, and Git gets `ci`/`TOKEN` from a credential helper, so the
 * password is in no answer, no log line and no error Git writes about the URL.
 * `lenient` (for rows written before this existed) strips a password from any scheme.
 */
export function splitRepoUrl(raw: string, opts: { lenient?: boolean } = {}): RepoSource {
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(raw)?.[1]?.toLowerCase();
  if (!scheme) return { url: raw, credential: null };
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    return { url: raw, credential: null };
  }
  if (scheme === 'http' || scheme === 'https') {
    if (!u.username && !u.password) return { url: raw, credential: null };
    const credential = { username: decodeURIComponent(u.username), password: decodeURIComponent(u.password) };
    u.username = '';
    u.password = '';
    return { url: u.toString(), credential };
  }
  if (!u.password) return { url: raw, credential: null };
  if (!opts.lenient) {
    throw new NestorError('NESTOR_REPO_URL_REFUSED', `Repository URL ${redactUrls(raw)} carries a password, which Git never uses for ${scheme}://`, `Drop the password: ${scheme === 'ssh' ? 'ssh:// repositories log in with a key (the server\'s ssh agent or ~/.ssh)' : 'use an https:// URL with credentials instead'}.`);
  }
  u.password = '';
  return { url: u.toString(), credential: null };
}

/**
 * Whether Git reads the repository from this machine's disk: `file://`, or a path. Git takes
 * `host:path` (a colon before any slash) for ssh, so that is not local.
 */
export function isLocalRepo(url: string): boolean {
  if (/^file:/i.test(url)) return true;
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) return false;
  const colon = url.indexOf(':');
  const slash = url.indexOf('/');
  return colon < 0 || (slash >= 0 && slash < colon);
}

/** The directory a local repository URL names, its links followed when it exists. */
export function localRepoPath(url: string): string {
  let path: string;
  try {
    path = /^file:/i.test(url) ? fileURLToPath(url) : resolve(url);
  } catch {
    throw new NestorError('NESTOR_REPO_URL_REFUSED', `Repository URL ${JSON.stringify(url)} is not a file:// URL of this machine`, 'Use file:///ABSOLUTE/PATH or an absolute path.');
  }
  try {
    return realpathSync(path);
  } catch {
    return path; // missing: Git says so when it is fetched
  }
}

/**
 * Refuses a local repository outside the roots the operator allows (NESTOR_LOCAL_REPO_ROOTS):
 * without this, anyone who may add an application could have the server read any Git
 * repository on its disk. Links are followed, so one inside a root that leads out is refused.
 */
export function checkLocalRoot(url: string, roots: readonly string[]): void {
  const path = localRepoPath(url);
  const real = roots.map((r) => {
    try {
      return realpathSync(r);
    } catch {
      return resolve(r);
    }
  });
  if (real.some((r) => inside(r, path))) return;
  throw new NestorError(
    'NESTOR_REPO_OUTSIDE_ROOTS',
    `The local repository ${path} is not under a directory this server allows${roots.length ? ` (${roots.join(', ')})` : ' (none is allowed)'}`,
    'Serve it from a forge (https:// or ssh://), or have the operator allow its parent directory with NESTOR_LOCAL_REPO_ROOTS=/srv/git (paths separated by ":").',
  );
}
