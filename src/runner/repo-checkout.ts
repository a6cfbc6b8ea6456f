import { execFile } from 'node:child_process';
import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { NestorError } from '../errors.ts';
import { RepositoryCache } from '../gitops/git.ts';
import type { RepoRun } from '../repos/repo-run.ts';
import type { RepoSource } from '../gitops/repo-url.ts';
import { redactUrls } from '../secrets/redact.ts';

const run = promisify(execFile);

/** How much history a job's checkout has: enough for `git describe` and recent logs, as GitLab's 20 and Drone's 50 give. */
export const CHECKOUT_DEPTH = 50;

/**
 * The runner's source for repository jobs: a bare mirror per repository (fetched incrementally,
 * so the tenth job of a repository fetches what changed, not the whole history), from which each
 * job gets exactly its pipeline's commit, shallow, in a directory of its own. The workspace's
 * `origin` is the repository's URL without credentials: none is written into it.
 */
export class RepoCheckouts {
  private readonly mirrors: RepositoryCache;
  private readonly env: NodeJS.ProcessEnv;

  constructor(cacheDir: string, env: NodeJS.ProcessEnv) {
    mkdirSync(cacheDir, { recursive: true, mode: 0o700 });
    this.mirrors = new RepositoryCache(cacheDir, env);
    this.env = env;
  }

  /**
   * Writes the run's commit, as a Git work tree on its branch (or detached), into `dir`.
   * `from` is where the mirror fetches: the server's Git endpoint with the job's token, so a
   * runner holds no credential of the forge; absent, the repository's URL.
   */
  async checkout(repo: RepoRun, dir: string, from?: RepoSource, depth = CHECKOUT_DEPTH): Promise<void> {
    // A later job of the same pipeline finds its commit in the mirror already: no fetch at all.
    if (!(await this.mirrors.hasCommit(repo.url, repo.commit))) await this.mirrors.fetchRefs({ url: repo.url, credential: null }, [repo.ref], from);
    const git = (args: string[]) => run('git', ['-C', dir, ...args], { env: { ...this.env, GIT_TERMINAL_PROMPT: '0', LC_ALL: 'C' }, timeout: 300_000, maxBuffer: 16 * 1024 * 1024 });
    mkdirSync(dir, { recursive: true });
    // No template (its sample hooks are files to copy for every job), and the remote written
    // with the init's own config rather than by another git process: each costs the job's wait.
    await git(['init', '--quiet', '--template=']);
    appendFileSync(join(dir, '.git', 'config'), `[remote "origin"]\n\turl = ${configValue(repo.url)}\n\tfetch = +refs/heads/*:refs/remotes/origin/*\n`);
    await git(['fetch', '--quiet', '--no-tags', `--depth=${depth}`, `file://${this.mirrors.pathOf(repo.url)}`, repo.commit]).catch(async (err: unknown) => {
      if (!(await this.mirrors.hasCommit(repo.url, repo.commit))) {
        throw new NestorError('NESTOR_GIT_COMMIT_MISSING', `${redactUrls(repo.url)} no longer has commit ${repo.commit.slice(0, 12)} on ${repo.ref}`, 'It was force-pushed away: run the pipeline again on the new commit.');
      }
      throw err;
    });
    const branch = repo.ref.startsWith('refs/heads/') ? repo.ref.slice('refs/heads/'.length) : undefined;
    await git(branch ? ['checkout', '--quiet', '-B', branch, repo.commit] : ['checkout', '--quiet', '--detach', repo.commit]);
    // A tag's pipeline has its tag, for `git describe` and the steps that read it.
    if (repo.ref.startsWith('refs/tags/')) await git(['tag', '--force', repo.ref.slice('refs/tags/'.length), repo.commit]);
  }
}

/** A value as git's config file reads it: quoted, its backslashes and quotes escaped. */
function configValue(value: string): string {
  if (/[\n\r\0]/.test(value)) throw new NestorError('NESTOR_REPO_URL_INVALID', 'A repository URL holds a line break', 'Give the repository its URL on one line (nestor repos update).');
  return `"${value.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}
