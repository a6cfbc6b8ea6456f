import { test } from 'node:test';
import assert from 'node:assert/strict';
import { PipelineError } from './errors.ts';
import { checkPullSecrets, imagePullOf } from './image-pull.ts';
import { serviceAliases } from './formats/gitlab.ts';
import { compileText } from './load.ts';

// Pull credentials in the plan: named, never valued (src/scheduler/pull-auth.ts resolves them).

const opts = { defaultImage: 'busybox:latest', branch: 'main', event: 'push' };
const DRONE = ['kind: pipeline', 'name: p', 'image_pull_secrets: [dockerconfig]', 'steps:', '  - name: a', '    image: reg.example.com/team/a:1', '    commands: [echo a]', 'services:', '  - name: s', '    image: reg.example.com/team/s:1', ''].join('\n');

test('Drone\'s image_pull_secrets: every step names the secret, with where it is written, and an info notice says so', () => {
  const [plan] = compileText({ text: DRONE, file: '.drone.yml' }, opts);
  assert.deepEqual(imagePullOf(plan!).map((p) => [p.name, p.optional, p.at?.line]), [['dockerconfig', undefined, 3]]);
  const notice = plan!.notices.find((n) => n.code === 'NESTOR_PULL_SECRETS');
  assert.equal(notice?.severity, 'info');
  assert.ok(!plan!.notices.some((n) => n.code === 'NESTOR_PULL_SECRETS_UNREAD'));
  // No container gets it as a variable.
  assert.ok([...plan!.steps, ...plan!.services].every((c) => c.secrets.length === 0 && !Object.values(c.environment).includes('dockerconfig')));
});

test('nestor run\'s check: a pull secret not given names it at its place; one given, or a pipeline that does not run, passes', () => {
  const plans = compileText({ text: DRONE, file: '.drone.yml' }, opts);
  assert.throws(() => checkPullSecrets(plans, []), (err: unknown) => err instanceof PipelineError && /\.drone\.yml:3:\d+: .*secret "dockerconfig".*--secret dockerconfig=VALUE/.test(err.message));
  checkPullSecrets(plans, ['dockerconfig']);
  const skipped = compileText({ text: DRONE.replace('steps:', 'trigger: {branch: [release]}\nsteps:'), file: '.drone.yml' }, opts);
  checkPullSecrets(skipped, []);
});

test('GitLab: every job pulls with DOCKER_AUTH_CONFIG when there is one, which is never required; written in the file, a notice says so', () => {
  const plain = compileText({ text: 'j:\n  image: reg.example.com/team/a:1\n  script: [echo]\n', file: '.gitlab-ci.yml' }, opts);
  assert.deepEqual(imagePullOf(plain[0]!), [{ name: 'DOCKER_AUTH_CONFIG', variable: true, optional: true }]);
  checkPullSecrets(plain, []);
  assert.ok(!plain[0]!.notices.some((n) => n.code === 'NESTOR_PULL_SECRETS'));
  const written = compileText({ text: 'variables:\n  DOCKER_AUTH_CONFIG: \'{"auths": {}}\'\nj:\n  script: [echo]\n', file: '.gitlab-ci.yml' }, opts);
  const notice = written[0]!.notices.find((n) => n.code === 'NESTOR_PULL_SECRETS');
  assert.equal(notice?.line, 2);
  assert.match(notice?.message ?? '', /--secret DOCKER_AUTH_CONFIG/);
});

test('GitLab: a service from a private registry with a port is named without the port, as GitLab Runner names it', () => {
  assert.deepEqual(serviceAliases('registry.gitlab-wp.com:4999/tutum/wordpress:9.3'), ['registry.gitlab-wp.com__tutum__wordpress', 'registry.gitlab-wp.com-tutum-wordpress']);
  assert.deepEqual(serviceAliases('docker:dind'), ['docker']);
});
