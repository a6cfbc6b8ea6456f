import { test } from 'node:test';
import assert from 'node:assert/strict';
import { forgeOf, parseTrigger, skipReason, type Trigger } from './webhook-trigger.ts';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const Z = '0'.repeat(40);
const gh = (event: string) => ({ 'x-github-event': event });
const gl = (event: string) => ({ 'x-gitlab-event': event });
const gt = (event: string) => ({ 'x-gitea-event': event });

const trigger = (provider: Parameters<typeof parseTrigger>[0], headers: Record<string, string>, body: unknown): Trigger => {
  const parsed = parseTrigger(provider, headers, body);
  assert.equal(parsed.kind, 'trigger', JSON.stringify(parsed));
  return (parsed as { trigger: Trigger }).trigger;
};
const ignored = (provider: Parameters<typeof parseTrigger>[0], headers: Record<string, string>, body: unknown): string => {
  const parsed = parseTrigger(provider, headers, body);
  assert.equal(parsed.kind, 'ignored', JSON.stringify(parsed));
  return (parsed as { reason: string }).reason;
};

test('pushes of a branch, in the three forges\' shapes', () => {
  const github = trigger('github', gh('push'), { ref: 'refs/heads/main', before: A, after: B, repository: { clone_url: 'https://github.com/team/app.git' }, head_commit: { id: B, message: 'Fix it', author: { name: 'Ada', email: 'ada@x' } }, pusher: { name: 'ada' } });
  assert.deepEqual([github.event, github.branch, github.commit, github.before, github.message, github.author, github.authorEmail, github.repoUrls], ['push', 'main', B, A, 'Fix it', 'Ada', 'ada@x', ['github.com/team/app']]);
  const gitlab = trigger('gitlab', gl('Push Hook'), { ref: 'refs/heads/dev', before: Z, after: B, checkout_sha: B, user_name: 'Bo', user_email: 'bo@x', project: { git_http_url: 'https://gitlab.example.com/g/sub/app.git' }, commits: [{ id: A, message: 'older' }, { id: B, message: 'Newest\n\nbody' }] });
  assert.deepEqual([gitlab.event, gitlab.branch, gitlab.before, gitlab.message, gitlab.author], ['push', 'dev', undefined, 'Newest\n\nbody', 'Bo'], 'a new branch has no previous commit');
  const gitea = trigger('gitea', gt('push'), { ref: 'refs/heads/main', before: A, after: B, commits: [{ id: B, message: 'Gitea change', author: { name: 'Cy' } }], repository: { clone_url: 'https://gitea.example.com/team/app.git' } });
  assert.deepEqual([gitea.message, gitea.author], ['Gitea change', 'Cy']);
});

test('tags: GitHub and Gitea send them as pushes, GitLab as Tag Push Hook', () => {
  assert.deepEqual([trigger('github', gh('push'), { ref: 'refs/tags/v1.2', before: Z, after: B }).event, trigger('github', gh('push'), { ref: 'refs/tags/v1.2', before: Z, after: B }).tag], ['tag', 'v1.2']);
  assert.equal(trigger('gitlab', gl('Tag Push Hook'), { ref: 'refs/tags/v2', before: Z, after: B, checkout_sha: B }).tag, 'v2');
  assert.equal(trigger('gitea', gt('push'), { ref: 'refs/tags/v3', after: B }).event, 'tag');
});

test('deletions, pings and other events start nothing, and say why', () => {
  assert.match(ignored('github', gh('push'), { ref: 'refs/heads/gone', before: A, after: Z, deleted: true }), /deleted/);
  assert.match(ignored('gitlab', gl('Push Hook'), { ref: 'refs/heads/gone', before: A, after: Z }), /deleted/);
  assert.match(ignored('github', gh('ping'), { zen: 'hi' }), /event ping is not a trigger/);
  assert.match(ignored('github', gh('issues'), {}), /not a trigger/);
  assert.match(ignored('gitlab', gl('Note Hook'), {}), /not a trigger/);
  assert.match(ignored('github', gh('push'), { ref: 'refs/notes/x', after: B }), /no branch or tag/);
  assert.match(ignored('github', gh('push'), { ref: 'refs/heads/main' }), /deleted|commit/);
  assert.match(ignored('github', gh('push'), 'not an object'), /no branch or tag/);
});

const pr = (action: string, fork: boolean) => ({
  action,
  number: 7,
  pull_request: { number: 7, title: 'Add X', user: { login: 'mal' }, head: { ref: 'feature', sha: B, repo: { full_name: fork ? 'mal/app' : 'team/app', clone_url: 'https://github.com/mal/app.git' } }, base: { ref: 'main', sha: A, repo: { full_name: 'team/app' } } },
  repository: { clone_url: 'https://github.com/team/app.git' },
});

test('pull requests opened or given new commits run; from a fork they say so', () => {
  const opened = trigger('github', gh('pull_request'), pr('opened', false));
  assert.deepEqual([opened.event, opened.ref, opened.branch, opened.commit, opened.before, opened.pullRequest?.fromFork, opened.pullRequest?.sourceBranch, opened.author], ['pull_request', 'refs/pull/7/head', 'main', B, A, false, 'feature', 'mal']);
  assert.equal(trigger('github', gh('pull_request'), pr('synchronize', true)).pullRequest?.fromFork, true);
  assert.equal(trigger('gitea', gt('pull_request'), pr('synchronized', true)).pullRequest?.fromFork, true);
  assert.equal(trigger('github', gh('pull_request'), pr('reopened', false)).pullRequest?.action, 'reopened');
  const gone = pr('opened', false);
  (gone.pull_request.head as { repo: unknown }).repo = null;
  assert.equal(trigger('github', gh('pull_request'), gone).pullRequest?.fromFork, true, 'a deleted head repository is a fork');
  assert.match(ignored('github', gh('pull_request'), pr('closed', false)), /action closed runs nothing/);
  assert.match(ignored('github', gh('pull_request'), pr('labeled', false)), /labeled/);
});

const mr = (action: string, extra: Record<string, unknown> = {}) => ({
  object_kind: 'merge_request',
  user: { name: 'Di' },
  project: { git_http_url: 'https://gitlab.example.com/g/app.git' },
  object_attributes: { iid: 12, action, title: 'MR', source_branch: 'topic', target_branch: 'main', source_project_id: 1, target_project_id: 1, last_commit: { id: B, message: 'MR commit', author: { name: 'Di' } }, ...extra },
});

test('GitLab merge requests: open, reopen and update with new commits run; forks by project id', () => {
  const open = trigger('gitlab', gl('Merge Request Hook'), mr('open'));
  assert.deepEqual([open.ref, open.branch, open.commit, open.message, open.pullRequest?.fromFork], ['refs/merge-requests/12/head', 'main', B, 'MR commit', false]);
  assert.equal(trigger('gitlab', gl('Merge Request Hook'), mr('update', { oldrev: A })).event, 'pull_request');
  assert.match(ignored('gitlab', gl('Merge Request Hook'), mr('update')), /update with new commits/);
  assert.equal(trigger('gitlab', gl('Merge Request Hook'), mr('reopen', { source_project_id: 9 })).pullRequest?.fromFork, true);
  assert.match(ignored('gitlab', gl('Merge Request Hook'), mr('merge')), /merge runs nothing/);
});

test('skip markers in the message, and GitLab\'s ci.skip push option', () => {
  const base = trigger('github', gh('push'), { ref: 'refs/heads/main', after: B, head_commit: { message: 'x' } });
  for (const m of ['Fix [skip ci]', '[CI SKIP] docs', 'wip [no ci]', '[skip actions] x', 'y [actions skip]', '***NO_CI*** z']) assert.ok(skipReason({ ...base, message: m }), m);
  assert.equal(skipReason({ ...base, message: 'skip the ci (no brackets)' }), undefined);
  const pushed = trigger('gitlab', gl('Push Hook'), { ref: 'refs/heads/main', after: B, push_options: { ci: { skip: null } } });
  assert.equal(skipReason(pushed), 'pushed with -o ci.skip');
});

test('Forgejo is read as Gitea', () => {
  assert.equal(forgeOf({ 'x-forgejo-event': 'push' }), 'gitea');
  assert.equal(forgeOf({ 'x-gitea-event': 'push' }), 'gitea');
  assert.equal(forgeOf({ 'x-github-event': 'push' }), 'github');
  assert.equal(forgeOf({ 'x-gitlab-event': 'Push Hook' }), 'gitlab');
  assert.equal(forgeOf({}), undefined);
  assert.equal(trigger('gitea', { 'x-forgejo-event': 'push' }, { ref: 'refs/heads/main', after: B }).branch, 'main');
});

const T = 'c'.repeat(40); // an annotated tag's own object id

test('an annotated tag builds the commit it names, not its tag object', () => {
  // GitHub and Gitea: `after` is the tag object, head_commit the commit it points at.
  const github = trigger('github', gh('push'), { ref: 'refs/tags/v1', before: Z, after: T, commits: [], head_commit: { id: B, message: 'Release', author: { name: 'Ada' } } });
  assert.deepEqual([github.commit, github.message, github.before], [B, 'Release', undefined]);
  assert.equal(trigger('gitea', gt('push'), { ref: 'refs/tags/v1', before: Z, after: T, head_commit: { id: B, message: 'r' } }).commit, B);
  // GitLab: checkout_sha is the commit; commits is empty and `message` is the tag's annotation.
  const gitlab = trigger('gitlab', gl('Tag Push Hook'), { object_kind: 'tag_push', ref: 'refs/tags/v1', before: Z, after: T, checkout_sha: B, message: 'Version 1', commits: [], user_name: 'Bo', user_email: '[REDACTED]' });
  assert.deepEqual([gitlab.commit, gitlab.message, gitlab.authorEmail], [B, 'Version 1', undefined], 'a redacted email is no email');
  // A branch push builds `after` even when head_commit were to disagree.
  assert.equal(trigger('github', gh('push'), { ref: 'refs/heads/main', after: B, head_commit: { id: A } }).commit, B);
});

test('Gitea pushes: pusher as author when commits lack one, the commit matching after', () => {
  const t = trigger('gitea', gt('push'), {
    ref: 'refs/heads/main', before: A, after: B, total_commits: 2,
    commits: [{ id: B, message: 'Newest' }, { id: A, message: 'Older' }],
    pusher: { login: 'cy', full_name: '', email: 'cy@example.com' },
    repository: { clone_url: 'https://gitea.example.com/team/app.git', ssh_url: 'git@gitea.example.com:team/app.git', html_url: 'https://gitea.example.com/team/app' },
  });
  assert.deepEqual([t.message, t.author, t.authorEmail, t.repoUrls], ['Newest', 'cy', 'cy@example.com', ['gitea.example.com/team/app']]);
});

test('Gitea deletes and pull requests: closed runs nothing, opened runs with the base sha', () => {
  assert.match(ignored('gitea', gt('push'), { ref: 'refs/heads/gone', before: A, after: Z, commits: [] }), /deleted/);
  assert.match(ignored('gitea', gt('pull_request'), pr('closed', false)), /action closed runs nothing/);
  const opened = trigger('gitea', gt('pull_request'), pr('opened', false));
  assert.deepEqual([opened.ref, opened.branch, opened.before, opened.pullRequest?.fromFork, opened.pullRequest?.headRepoUrl], ['refs/pull/7/head', 'main', A, false, 'https://github.com/mal/app.git']);
  assert.match(ignored('gitea', gt('create'), { ref: 'v1', ref_type: 'tag', sha: B }), /event create is not a trigger/, 'the tag also comes as a push');
});

test('pull requests carry no commit message: a [skip ci] title does not skip them', () => {
  const t = trigger('github', gh('pull_request'), { ...pr('opened', false), pull_request: { ...pr('opened', false).pull_request, title: 'WIP [skip ci]' } });
  assert.deepEqual([t.message, t.pullRequest?.title, skipReason(t)], ['', 'WIP [skip ci]', undefined]);
});

test('a fork is assumed when the payload cannot show the head is the base', () => {
  const unnamed = pr('opened', false);
  unnamed.pull_request.head.repo = {} as typeof unnamed.pull_request.head.repo;
  (unnamed.pull_request.base as { repo?: unknown }).repo = undefined;
  assert.equal(trigger('github', gh('pull_request'), unnamed).pullRequest?.fromFork, true);
  const noIds = mr('open', { source_project_id: undefined, target_project_id: undefined });
  assert.equal(trigger('gitlab', gl('Merge Request Hook'), noIds).pullRequest?.fromFork, true);
});

test('GitLab merge requests: close runs nothing; the author and source URL are read', () => {
  assert.match(ignored('gitlab', gl('Merge Request Hook'), mr('close')), /action close runs nothing/);
  const t = trigger('gitlab', gl('Merge Request Hook'), mr('open', { source: { git_http_url: 'https://gitlab.example.com/fork/app.git' }, last_commit: { id: B, message: 'Change', author: { name: 'Di', email: 'di@example.com' } } }));
  assert.deepEqual([t.author, t.authorEmail, t.pullRequest?.headRepoUrl, t.pullRequest?.number, t.repoUrls], ['Di', 'di@example.com', 'https://gitlab.example.com/fork/app.git', 12, ['gitlab.example.com/g/app']]);
  assert.match(ignored('gitlab', gl('Merge Request Hook'), mr('open', { iid: '12' })), /lacks its iid/, 'an iid that is not a number');
});

test('a push with no commit says so, not that it deleted anything', () => {
  const reason = ignored('github', gh('push'), { ref: 'refs/heads/main', before: A });
  assert.match(reason, /names no commit/);
  assert.doesNotMatch(reason, /deleted/);
  assert.match(ignored('gitlab', gl('Push Hook'), { ref: 'refs/heads/main', after: 'not-a-sha' }), /not a commit id/);
});

test('odd payloads are ignored, never thrown on', () => {
  const odd: unknown[] = [null, undefined, 42, 'x', [], { ref: 7, after: {} }, { ref: 'refs/heads/main', after: B, commits: 'no', head_commit: [1], pusher: null }];
  for (const provider of ['github', 'gitea', 'gitlab'] as const) {
    for (const event of ['push', 'pull_request', 'Push Hook', 'Tag Push Hook', 'Merge Request Hook']) {
      const headers = provider === 'github' ? gh(event) : provider === 'gitea' ? gt(event) : gl(event);
      for (const body of odd) assert.doesNotThrow(() => parseTrigger(provider, headers, body), `${provider} ${event} ${JSON.stringify(body)}`);
      assert.doesNotThrow(() => parseTrigger(provider, headers, { action: 'opened', object_attributes: { action: 'open', last_commit: null }, pull_request: { head: null, base: 5 } }));
    }
  }
  assert.match(ignored('github', {}, { ref: 'refs/heads/main', after: B }), /event \(none\) is not a trigger/);
});

test('GitLab push options in array form; other forges have none', () => {
  const t = trigger('gitlab', gl('Push Hook'), { ref: 'refs/heads/main', after: B, checkout_sha: B, push_options: ['ci.skip', 7] });
  assert.deepEqual([t.pushOptions, skipReason(t)], [['ci.skip'], 'pushed with -o ci.skip']);
  assert.equal(trigger('gitlab', gl('Push Hook'), { ref: 'refs/heads/main', after: B, push_options: {} }).pushOptions, undefined);
  assert.equal(trigger('github', gh('push'), { ref: 'refs/heads/main', after: B, push_options: ['ci.skip'] }).pushOptions, undefined);
  assert.equal(skipReason(trigger('gitlab', gl('Push Hook'), { ref: 'refs/heads/main', after: B, commits: [{ id: B, message: 'docs\n\n[SKIP CI]' }] })), 'the commit message says [skip ci]');
});
