import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { stepScript } from './script.ts';

const sh = (script: string) => spawnSync('sh', ['-c', script], { encoding: 'utf8' });

test("after-commands run whatever happened, see the job's status in CI_JOB_STATUS, and keep the main exit code", () => {
  const failed = sh(stepScript(['echo main', 'exit 3', 'echo never'], ['echo "status $CI_JOB_STATUS"']));
  assert.equal(failed.status, 3);
  assert.deepEqual(failed.stdout.split('\n').filter((l) => !l.startsWith('+')), ['main', 'status failed', '']);
  const passed = sh(stepScript(['true'], ['echo "status $CI_JOB_STATUS"']));
  assert.equal(passed.status, 0);
  assert.ok(passed.stdout.includes('status success'));
  const allowed = sh(stepScript(['exit 42'], ['echo "status $CI_JOB_STATUS"'], [42]));
  assert.equal(allowed.status, 0, 'an exit code allowed to fail ends the step as a success');
  assert.ok(allowed.stdout.includes('status failed'), 'the after_script still sees the job as failed, as on GitLab');
});
