import { execFileSync } from 'node:child_process';
import { createHmac, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * A real Git repository for repository-CI tests: a bare repository served over file:// (the
 * "forge"), and a working clone the test commits and pushes in.
 */
export class TestRepo {
  readonly bare: string;
  readonly work: string;
  readonly url: string;

  constructor() {
    const root = mkdtempSync(join(tmpdir(), 'nestor-repo-'));
    this.bare = join(root, 'team', 'app.git');
    this.work = join(root, 'work');
    mkdirSync(this.bare, { recursive: true });
    this.git(['init', '--quiet', '--bare', '--initial-branch=main', this.bare], root);
    this.git(['init', '--quiet', '--initial-branch=main', this.work], root);
    this.git(['remote', 'add', 'origin', this.bare]);
    this.url = `file://${this.bare}`;
  }

  git(args: string[], cwd = this.work): string {
    return execFileSync('git', ['-c', 'user.name=Ada Tester', '-c', 'user.email=ada@example.com', ...args], { cwd, encoding: 'utf8', env: { ...process.env, GIT_CONFIG_NOSYSTEM: '1' } }).trim();
  }

  /** Writes the files (null: removes it), commits them with `message` and pushes the branch; answers before and after. */
  commit(files: Record<string, string | null>, message: string, branch = 'main'): { before: string; after: string } {
    const before = this.headOf(branch);
    if (this.git(['branch', '--show-current']) !== branch) this.git(['checkout', '--quiet', '-B', branch]);
    for (const [path, text] of Object.entries(files)) {
      if (text === null) {
        rmSync(join(this.work, path), { force: true });
        continue;
      }
      mkdirSync(dirname(join(this.work, path)), { recursive: true });
      writeFileSync(join(this.work, path), text);
    }
    this.git(['add', '-A']);
    this.git(['commit', '--quiet', '--allow-empty', '-m', message]);
    this.git(['push', '--quiet', 'origin', branch]);
    return { before, after: this.git(['rev-parse', 'HEAD']) };
  }

  tag(name: string): string {
    this.git(['tag', name]);
    this.git(['push', '--quiet', 'origin', name]);
    return this.git(['rev-parse', 'HEAD']);
  }

  private headOf(branch: string): string {
    try {
      return this.git(['rev-parse', '--verify', '--quiet', `refs/remotes/origin/${branch}`]) || '0'.repeat(40);
    } catch {
      return '0'.repeat(40);
    }
  }
}

/** A GitHub push delivery as GitHub sends it: the documented payload fields, signed with `secret`. */
export function githubPush(secret: string, p: { ref: string; before: string; after: string; message: string; repo?: string; id?: string }): { headers: Record<string, string>; body: string } {
  const body = JSON.stringify({
    ref: p.ref,
    before: p.before,
    after: p.after,
    created: /^0+$/.test(p.before),
    deleted: false,
    forced: false,
    repository: { full_name: p.repo ?? 'team/app', clone_url: `https://github.com/${p.repo ?? 'team/app'}.git`, default_branch: 'main' },
    pusher: { name: 'ada', email: 'ada@example.com' },
    head_commit: { id: p.after, message: p.message, author: { name: 'Ada Tester', email: 'ada@example.com', username: 'ada' } },
    commits: [{ id: p.after, message: p.message, author: { name: 'Ada Tester', email: 'ada@example.com' } }],
  });
  return { headers: signedGithub(secret, body, 'push', p.id), body };
}

/** A GitHub pull_request delivery (opened or synchronize), from a fork or not. */
export function githubPullRequest(secret: string, p: { number: number; action: string; head: string; headBranch: string; base: string; baseSha?: string; fork: boolean; title?: string }): { headers: Record<string, string>; body: string } {
  const repo = { full_name: 'team/app', clone_url: 'https://github.com/team/app.git' };
  const fork = { full_name: 'mallory/app', clone_url: 'https://github.com/mallory/app.git' };
  const body = JSON.stringify({
    action: p.action,
    number: p.number,
    pull_request: {
      number: p.number,
      title: p.title ?? 'A change',
      head: { ref: p.headBranch, sha: p.head, repo: p.fork ? fork : repo },
      base: { ref: p.base, sha: p.baseSha ?? '0'.repeat(40), repo },
      user: { login: p.fork ? 'mallory' : 'ada' },
    },
    repository: repo,
    sender: { login: p.fork ? 'mallory' : 'ada' },
  });
  return { headers: signedGithub(secret, body, 'pull_request'), body };
}

function signedGithub(secret: string, body: string, event: string, id: string = randomUUID()): Record<string, string> {
  return {
    'content-type': 'application/json',
    'x-github-event': event,
    'x-github-delivery': id,
    'x-hub-signature-256': `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`,
  };
}

/** Posts a delivery to the repository's webhook URL. */
export async function deliver(url: string, delivery: { headers: Record<string, string>; body: string }): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, { method: 'POST', headers: delivery.headers, body: delivery.body });
  const text = await res.text();
  return { status: res.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}
