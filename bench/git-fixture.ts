// Git repositories for the repository benches: a bare one on this disk (the "forge", served over
// file://) and a work tree that commits and pushes to it; and GitHub's push webhook, signed.
// The bench keeps its own copy of test/server/repo-fixture.ts's helpers: test/ changes under it.
import { execFileSync } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';

// No system or user configuration: hooks, signing or a template would change what is timed.
const ENV = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null' };

export function git(args: string[], cwd: string): string {
  return execFileSync('git', ['-c', 'user.name=Bench', '-c', 'user.email=bench@example.com', ...args], { cwd, encoding: 'utf8', env: ENV }).trim();
}

export class BenchRepo {
  readonly bare: string;
  readonly work: string;
  readonly url: string;
  private head = '0'.repeat(40);

  constructor(root: string) {
    this.bare = join(root, 'origin.git');
    this.work = join(root, 'work');
    mkdirSync(this.bare, { recursive: true });
    // An empty template: no sample hooks, so a copied repository is a few files, not 60 kB.
    git(['init', '--quiet', '--bare', '--template=', '--initial-branch=main', this.bare], root);
    git(['init', '--quiet', '--template=', '--initial-branch=main', this.work], root);
    git(['remote', 'add', 'origin', this.bare], this.work);
    this.url = `file://${this.bare}`;
  }

  /** Commits the files on main and pushes; answers the branch's head before and after. */
  commit(files: Record<string, string>, message: string): { before: string; after: string } {
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(dirname(join(this.work, path)), { recursive: true });
      writeFileSync(join(this.work, path), text);
    }
    git(['add', '-A'], this.work);
    git(['commit', '--quiet', '--allow-empty', '-m', message], this.work);
    git(['push', '--quiet', 'origin', 'main'], this.work);
    const before = this.head;
    this.head = git(['rev-parse', 'HEAD'], this.work);
    return { before, after: this.head };
  }
}

/** A GitHub push delivery with the payload fields the server reads, signed with `secret`. */
export function githubPush(secret: string, repo: string, p: { before: string; after: string; message: string }): { headers: Record<string, string>; body: string } {
  const body = JSON.stringify({
    ref: 'refs/heads/main',
    before: p.before,
    after: p.after,
    created: /^0+$/.test(p.before),
    deleted: false,
    forced: false,
    repository: { full_name: repo, clone_url: `https://github.com/${repo}.git`, default_branch: 'main' },
    pusher: { name: 'bench', email: 'bench@example.com' },
    head_commit: { id: p.after, message: p.message, author: { name: 'Bench', email: 'bench@example.com', username: 'bench' } },
    commits: [{ id: p.after, message: p.message, author: { name: 'Bench', email: 'bench@example.com' } }],
  });
  return {
    body,
    headers: {
      'content-type': 'application/json',
      'x-github-event': 'push',
      'x-github-delivery': randomUUID(),
      'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
    },
  };
}
