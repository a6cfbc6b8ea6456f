import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JobPlan, PlanStep } from '../pipeline/plan.ts';
import { withSecretVariables } from './job-variables.ts';

const step = (name: string, environment: Record<string, string> = {}, secrets: PlanStep['secrets'] = []): PlanStep =>
  ({ name, image: 'alpine', environment, secrets, privileged: false, mounts: [], engine: { client: true, certDirs: [] }, workingDir: '/w', dependsOn: [], runOn: ['success'], timeoutMs: 1000, ignoreFailure: false, detach: false }) satisfies PlanStep;
const plan = (steps: PlanStep[], gitlab = false): JobPlan =>
  ({ name: 'j', pipeline: 'p', matrix: {}, workspace: '/w', steps, services: [], volumes: [], images: [], engineAliases: [], copySource: true, notices: [], ...(gitlab ? { secretsAsVariables: true } : {}) }) as JobPlan;

test('a GitLab job has every secret as a variable, over the file\'s own of that name; other formats only those asked for', () => {
  const secrets = { DEPLOY_KEY: 'k-1', CI_JOB_TOKEN: 'njt_x' };
  const gitlab = withSecretVariables(plan([step('build', { DEPLOY_KEY: 'from-the-file', KEEP: '1' })], true), secrets, ['CI_JOB_TOKEN'], { NESTOR_SERVER_URL: 'http://s' });
  assert.deepEqual(gitlab.steps[0]!.secrets, [{ name: 'CI_JOB_TOKEN', env: 'CI_JOB_TOKEN' }, { name: 'DEPLOY_KEY', env: 'DEPLOY_KEY' }]);
  assert.deepEqual(gitlab.steps[0]!.environment, { NESTOR_SERVER_URL: 'http://s', KEEP: '1' });
  const drone = withSecretVariables(plan([step('build', { NESTOR_SERVER_URL: 'mine' }, [{ name: 'DEPLOY_KEY', env: 'KEY' }])]), secrets, ['CI_JOB_TOKEN'], { NESTOR_SERVER_URL: 'http://s' });
  assert.deepEqual(drone.steps[0]!.secrets, [{ name: 'DEPLOY_KEY', env: 'KEY' }, { name: 'CI_JOB_TOKEN', env: 'CI_JOB_TOKEN' }]);
  assert.equal(drone.steps[0]!.environment.NESTOR_SERVER_URL, 'mine', 'a plain variable fills in, never overrides');
  const pulling = plan([{ ...step('b'), recorded: { imagePull: [{ name: 'DOCKER_AUTH_CONFIG', variable: true, optional: true }] } }], true);
  assert.deepEqual(withSecretVariables(pulling, { DOCKER_AUTH_CONFIG: '{}', KEY: 'k-1' }, []).steps[0]!.secrets, [{ name: 'KEY', env: 'KEY' }], 'a pull secret stays the pulls\' alone');
  const none = plan([step('a')]);
  assert.equal(withSecretVariables(none, {}, ['CI_JOB_TOKEN']), none, 'nothing to add: the plan as it is');
});
