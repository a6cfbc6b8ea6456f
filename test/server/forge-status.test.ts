import { test } from 'node:test';
import assert from 'node:assert/strict';
import { StatusReporter, type ForgeTarget } from '../../src/repos/forge-status.ts';
import { startRecordingForge } from '../support/recording-forge.ts';

/** Commit statuses as each forge documents them, sent to a real local HTTP server; retried when the forge is down. */
const SHA = 'c'.repeat(40);
const update = { commit: SHA, context: 'nestor/ci', description: 'Pipeline #4 passed', targetUrl: 'http://nestor.example/api/repos/team%2Fapp/pipelines/4' };
const quick = { base: 5, max: 20 };

test('GitHub, GitLab and Gitea each get their own path, header and states', async () => {
  const forge = await startRecordingForge();
  const reporter = new StatusReporter({ backoff: quick });
  const target = (kind: ForgeTarget['kind'], api: string, project = 'team/app'): ForgeTarget => ({ kind, apiUrl: `${forge.url}${api}`, project, token: `${kind}-token` });
  reporter.report(target('github', ''), { ...update, state: 'running' });
  reporter.report(target('gitlab', '/api/v4', 'group/sub/app'), { ...update, state: 'cancelled' });
  reporter.report(target('gitea', '/api/v1'), { ...update, state: 'failure' });
  await reporter.idle();
  await forge.close();
  const byPath = Object.fromEntries(forge.calls.map((c) => [c.path, c]));
  const github = byPath[`/repos/team/app/statuses/${SHA}`]!;
  assert.deepEqual([github.headers.authorization, github.headers['x-github-api-version'], github.body.state, github.body.context, github.body.target_url], ['Bearer github-token', '2022-11-28', 'pending', 'nestor/ci', update.targetUrl]);
  const gitlab = byPath[`/api/v4/projects/group%2Fsub%2Fapp/statuses/${SHA}`]!;
  assert.deepEqual([gitlab.headers['private-token'], gitlab.headers.authorization, gitlab.body.state, gitlab.body.name], ['gitlab-token', undefined, 'canceled', 'nestor/ci']);
  const gitea = byPath[`/api/v1/repos/team/app/statuses/${SHA}`]!;
  assert.deepEqual([gitea.headers.authorization, gitea.body.state, gitea.body.description], ['token gitea-token', 'failure', 'Pipeline #4 passed']);
});

test('a forge that is down is retried until it answers; the newest state wins; a refusal is said without the token', async () => {
  const forge = await startRecordingForge({ failFirst: 3 });
  const problems: string[] = [];
  const reporter = new StatusReporter({ backoff: quick, onProblem: (what, err) => problems.push(`${what} ${err instanceof Error ? err.message : ''}`) });
  const target: ForgeTarget = { kind: 'github', apiUrl: forge.url, project: 'team/app', token: 'ghp_secret123' };
  reporter.report(target, { ...update, state: 'pending' });
  reporter.report(target, { ...update, state: 'success' });
  await reporter.idle();
  const states = forge.calls.map((c) => c.body.state);
  assert.equal(states.at(-1), 'success', 'the last one sent is the newest');
  assert.ok(states.length >= 4, `retried through three 503s: ${states}`);
  assert.equal(problems.length, 0, problems.join("; "));

  // A 404 (a wrong project) is not retried, and the message has no token in it.
  const before = forge.calls.length;
  reporter.report({ ...target, apiUrl: `${forge.url}/nowhere` }, { ...update, state: 'success' });
  await reporter.idle();
  assert.equal(forge.calls.length, before + 1);
  assert.equal(problems.length, 1);
  assert.match(problems[0]!, /404/);
  assert.equal(problems[0]!.includes('ghp_secret123'), false);
  await reporter.close();
  await forge.close();
});
