import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runnerLabels } from './runner-labels.ts';

test("a runner has its machine's platform, its backend and its hostname as labels; the operator's own win by key", () => {
  assert.deepEqual(runnerLabels(['gpu=yes'], { arch: 'x64', hostname: 'ci-1' }), ['platform=linux/amd64', 'backend=docker', 'hostname=ci-1', 'docker', 'linux', 'gpu=yes']);
  assert.deepEqual(runnerLabels(['platform=linux/arm64', 'local'], { arch: 'arm64', hostname: 'pi' }), ['platform=linux/arm64', 'backend=docker', 'hostname=pi', 'docker', 'linux', 'local']);
});
