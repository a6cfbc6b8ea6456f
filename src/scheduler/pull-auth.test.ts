import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { JobPlan, PlanStep } from '../pipeline/plan.ts';
import { jobSpecOf } from './job-spec.ts';
import { pullAuthOf } from './pull-auth.ts';
import { SecretMasker } from './secret-masker.ts';

const config = (user: string, pw: string) => JSON.stringify({ auths: { 'reg.example.com:5000': { auth: Buffer.from(`${user}:${pw}`).toString('base64') } } });

function plan(imagePull: NonNullable<PlanStep['recorded']>['imagePull'], environment: Record<string, string> = {}): JobPlan {
  const step = { name: 'a', image: 'reg.example.com:5000/a:1', environment, secrets: [], privileged: false, mounts: [], engine: { client: true, certDirs: [] }, workingDir: '/w', dependsOn: [], runOn: ['success'], timeoutMs: 1000, ignoreFailure: false, detach: false, recorded: { imagePull } } satisfies PlanStep;
  return { name: 'j', pipeline: 'p', matrix: {}, workspace: '/w', steps: [step], services: [], volumes: [], images: [step.image], engineAliases: [], copySource: false, notices: [] };
}

test('a pull secret given to the run is parsed for the backend and said by registry, never by value', () => {
  const auth = pullAuthOf(plan([{ name: 'dockerconfig' }]), { dockerconfig: config('builder', 'pw-1') });
  assert.deepEqual(auth.auth, [{ name: 'dockerconfig', from: 'secret dockerconfig', given: true, credentials: [{ registry: 'reg.example.com:5000', username: 'builder', secret: 'pw-1' }] }]);
  assert.deepEqual(auth.revealed, []);
  assert.match(auth.notices[0]!, /secret dockerconfig \(for reg\.example\.com:5000\)/);
  assert.doesNotMatch(auth.notices.join(), /pw-1/);
});

test('not given: said when the file named it, silent when only implied (GitLab); the pulls go without', () => {
  const named = pullAuthOf(plan([{ name: 'dockerconfig' }]), {});
  assert.deepEqual(named.auth, [{ name: 'dockerconfig', from: 'secret dockerconfig', given: false, credentials: [] }]);
  assert.match(named.notices[0]!, /secret dockerconfig was not given/);
  assert.deepEqual(pullAuthOf(plan([{ name: 'DOCKER_AUTH_CONFIG', variable: true, optional: true }]), {}).notices, []);
});

test('GitLab\'s DOCKER_AUTH_CONFIG: the run\'s secret first, else the job\'s variable, which the job keeps (as on GitLab) and whose passwords are masked', () => {
  const p = plan([{ name: 'DOCKER_AUTH_CONFIG', variable: true, optional: true }], { DOCKER_AUTH_CONFIG: config('v', 'pw-var'), KEEP: 'x' });
  assert.equal(pullAuthOf(p, { DOCKER_AUTH_CONFIG: config('s', 'pw-secret') }).auth[0]!.credentials[0]!.secret, 'pw-secret');
  const fromVariable = pullAuthOf(p, {});
  assert.equal(fromVariable.auth[0]!.from, 'variable DOCKER_AUTH_CONFIG');
  assert.equal(new SecretMasker(fromVariable.revealed).mask('password pw-var'), 'password ********');
  assert.deepEqual(Object.keys(jobSpecOf(p).spec.steps[0]!.environment).sort(), ['DOCKER_AUTH_CONFIG', 'KEEP']);
});

test('an unusable config fails the job, naming where it came from and not what it holds', () => {
  assert.throws(() => pullAuthOf(plan([{ name: 'dockerconfig' }]), { dockerconfig: '{"credsStore": "pw-not-shown"}' }), (err: Error & { code?: string }) => err.code === 'NESTOR_PULL_SECRET_INVALID' && /secret dockerconfig/.test(err.message) && !/pw-not-shown/.test(err.message));
});
