import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RepoCheckouts } from './repo-checkout.ts';

const env = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@nestor.invalid', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@nestor.invalid' };
const git = (cwd: string, ...args: string[]) => execFileSync('git', args, { cwd, env, encoding: 'utf8' }).trim();

test('a job\'s checkout is its commit on its branch (or its tag), with origin the repository\'s URL, from the runner\'s mirror', async () => {
  const root = mkdtempSync(join(tmpdir(), 'nestor-checkout-'));
  try {
    const bare = join(root, 'app.git');
    const work = join(root, 'work');
    execFileSync('git', ['init', '--quiet', '--bare', '--initial-branch=main', bare], { env });
    execFileSync('git', ['clone', '--quiet', bare, work], { env, stdio: 'ignore' });
    writeFileSync(join(work, 'a.txt'), 'one\n');
    git(work, 'add', '.');
    git(work, 'commit', '--quiet', '-m', 'one');
    git(work, 'tag', 'v1');
    git(work, 'push', '--quiet', 'origin', 'main', 'v1');
    const commit = git(work, 'rev-parse', 'HEAD');
    const url = `file://${bare}`;
    const checkouts = new RepoCheckouts(join(root, 'mirrors'), env);

    const dir = join(root, 'job1');
    await checkouts.checkout({ repo: 'team/app', url, ref: 'refs/heads/main', commit } as never, dir);
    assert.equal(readFileSync(join(dir, 'a.txt'), 'utf8'), 'one\n');
    assert.equal(git(dir, 'rev-parse', 'HEAD'), commit);
    assert.equal(git(dir, 'branch', '--show-current'), 'main');
    assert.equal(git(dir, 'remote', 'get-url', 'origin'), url);
    assert.equal(git(dir, 'status', '--porcelain'), '', 'a clean work tree');

    const tagged = join(root, 'job2');
    await checkouts.checkout({ repo: 'team/app', url, ref: 'refs/tags/v1', commit } as never, tagged);
    assert.equal(git(tagged, 'describe', '--tags'), 'v1');

    await assert.rejects(checkouts.checkout({ repo: 'team/app', url, ref: 'refs/heads/main', commit: 'f'.repeat(40) } as never, join(root, 'job3')), (err: { code?: string }) => err.code === 'NESTOR_GIT_COMMIT_MISSING');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
