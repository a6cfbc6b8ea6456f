import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ForgeTarget, StatusReporter, StatusUpdate } from './forge-status.ts';
import { PipelineStatuses } from './pipeline-status.ts';
import type { RepoRecord } from './repo-store.ts';

const repo = { name: 'team/app', forge: { kind: 'github', apiUrl: 'https://api.github.com', project: 'team/app' }, forgeToken: 't' } as unknown as RepoRecord;

test('a pipeline of several workflows gets a commit status per workflow beside the whole pipeline\'s, each state sent once', () => {
  const sent: StatusUpdate[] = [];
  const reporter = { report: (_t: ForgeTarget, u: StatusUpdate) => sent.push(u) } as unknown as StatusReporter;
  const statuses = new PipelineStatuses(reporter, 'http://ci.example.com/');
  const base = { id: 'p1', number: 4, commit: 'c'.repeat(40) };
  statuses.changed(repo, { ...base, status: 'running', workflows: [{ name: 'ci', statuses: ['running', 'waiting'] }, { name: 'lint', statuses: ['queued'] }] });
  assert.deepEqual(sent.map((u) => [u.context, u.state]), [['nestor/ci', 'running'], ['nestor/ci/ci', 'running'], ['nestor/ci/lint', 'pending']]);
  statuses.changed(repo, { ...base, status: 'running', workflows: [{ name: 'ci', statuses: ['succeeded', 'running'] }, { name: 'lint', statuses: ['failed'] }] });
  assert.deepEqual(sent.slice(3).map((u) => [u.context, u.state]), [['nestor/ci/lint', 'failure']], 'only what changed');
  statuses.changed(repo, { ...base, status: 'failed', workflows: [{ name: 'ci', statuses: ['succeeded', 'succeeded'] }, { name: 'lint', statuses: ['failed'] }] });
  assert.deepEqual(sent.slice(4).map((u) => [u.context, u.state]), [['nestor/ci', 'failure'], ['nestor/ci/ci', 'success']]);
  assert.equal(sent[0]!.targetUrl, 'http://ci.example.com/api/repos/team%2Fapp/pipelines/4');
  const single: StatusUpdate[] = [];
  new PipelineStatuses({ report: (_t: ForgeTarget, u: StatusUpdate) => single.push(u) } as unknown as StatusReporter, 'http://x').changed(repo, { ...base, id: 'p2', status: 'running', workflows: [{ name: 'ci', statuses: ['running'] }] });
  assert.deepEqual(single.map((u) => u.context), ['nestor/ci'], 'one workflow: the pipeline\'s context alone');
});
