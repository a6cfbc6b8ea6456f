import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileText } from '../pipeline/load.ts';
import { withDeployTargets } from './deploy-steps.ts';

const FILE = `steps:
  - name: ship
    image: docker:27-cli
    deploy: prod
    environment:
      DOCKER_HOST: tcp://docker:2376
    commands: [docker ps]
  - name: env
    image: docker:27-cli
    environment:
      NESTOR_DEPLOY_TARGET: prod
    commands: [docker ps]
  - name: build
    image: docker:27-cli
    commands: [docker build .]
`;

test('steps name a deploy target by Nestor\'s key or NESTOR_DEPLOY_TARGET; the plan carries the names, and the runner points only those steps at it', () => {
  const [plan] = compileText({ text: FILE, file: '.nestor.yml' }, { defaultImage: 'busybox', event: 'push' });
  assert.deepEqual(plan!.deployTargets, ['prod']);
  assert.deepEqual(plan!.steps.map((s) => s.deployTarget), ['prod', 'prod', undefined]);
  const [pointed] = withDeployTargets([plan!], [{ name: 'prod', dockerHost: 'tcp://172.18.0.1:40123', clientDir: '/tmp/x/client', close: async () => undefined }]);
  const [ship, env, build] = pointed!.steps;
  assert.equal(ship!.environment.DOCKER_HOST, 'tcp://172.18.0.1:40123', "the target wins over the file's own DOCKER_HOST");
  assert.equal(ship!.environment.DOCKER_CERT_PATH, '/run/nestor/deploy/prod');
  assert.equal(env!.environment.DOCKER_TLS_VERIFY, '1');
  assert.ok(ship!.mounts.some((m) => m.kind === 'volume' && m.target === '/run/nestor/deploy/prod' && m.readOnly));
  assert.equal(build!.environment.DOCKER_HOST, undefined, 'a step naming no target keeps its job\'s engine');
  assert.deepEqual(pointed!.volumeFolders, [{ volume: 'nestor-deploy-prod', dir: '/tmp/x/client', into: '.' }]);
  assert.ok(pointed!.volumes.includes('nestor-deploy-prod'));
});

test('a deploy target name is checked where the file says it', () => {
  assert.throws(() => compileText({ text: 'steps:\n  - name: a\n    deploy: "Prod Server"\n    commands: [true]\n', file: '.nestor.yml' }, { defaultImage: 'busybox', event: 'push' }), /\.nestor\.yml:3:\d+[\s\S]*deploy target name/);
});
