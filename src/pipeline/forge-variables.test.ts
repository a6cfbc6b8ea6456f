import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileText } from './load.ts';

const opts = { defaultImage: 'busybox:latest', branch: 'main', event: 'push', commit: 'a'.repeat(40), project: 'team/app' } as const;
const env = (file: string, text: string, extra = {}) => compileText({ file, text }, { ...opts, ...extra })[0]!.steps[0]!.environment;

test("Drone's steps get the commit, ref, repository, stage and step of the run under Drone's names", () => {
  const e = env('.drone.yml', 'kind: pipeline\nname: build\nsteps:\n  - name: tag\n    image: busybox\n    commands: [echo]\n');
  assert.equal(e.DRONE_COMMIT_SHA, 'a'.repeat(40));
  assert.equal(e.DRONE_COMMIT, e.DRONE_COMMIT_SHA);
  assert.equal(e.DRONE_COMMIT_REF, 'refs/heads/main');
  assert.deepEqual([e.DRONE_REPO, e.DRONE_REPO_OWNER, e.DRONE_REPO_NAME], ['team/app', 'team', 'app']);
  assert.deepEqual([e.DRONE_STAGE_NAME, e.DRONE_STEP_NAME, e.DRONE_BUILD_EVENT, e.DRONE_WORKSPACE], ['build', 'tag', 'push', '/drone/src']);
  assert.equal(e.DRONE_TAG, undefined, 'no tag on a push');
  const tagged = env('.drone.yml', 'kind: pipeline\nname: build\nsteps:\n  - name: tag\n    image: busybox\n    commands: [echo]\n', { event: 'tag', tag: 'v1.2.0', branch: undefined });
  assert.deepEqual([tagged.DRONE_TAG, tagged.DRONE_COMMIT_REF], ['v1.2.0', 'refs/tags/v1.2.0']);
});

test("Woodpecker's steps get CI_COMMIT_*, CI_REPO*, CI_WORKFLOW_NAME and CI_STEP_NAME; a pull request's branch is its target", () => {
  const text = 'steps:\n  - name: check\n    image: busybox\n    commands: [echo]\n';
  const e = env('.woodpecker.yml', text);
  assert.deepEqual([e.CI_COMMIT_SHA, e.CI_COMMIT_BRANCH, e.CI_REPO, e.CI_REPO_NAME, e.CI_WORKFLOW_NAME, e.CI_STEP_NAME], ['a'.repeat(40), 'main', 'team/app', 'app', 'woodpecker', 'check']);
  const pr = env('.woodpecker.yml', text, { event: 'pull_request', branch: 'topic' });
  assert.deepEqual([pr.CI_COMMIT_BRANCH, pr.CI_COMMIT_SOURCE_BRANCH, pr.CI_COMMIT_TARGET_BRANCH], ['main', 'topic', 'main']);
});
