import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileText } from '../../pipeline/load.ts';
import type { JobPlan, PlanContainer } from '../../pipeline/plan.ts';
import { containerOptions } from './container-spec.ts';
import { engineNames } from './engine-transport.ts';
import type { JobContext } from './job-context.ts';

// The plan says a step talks to its job's engine; these are the variables, mounts and names it
// becomes in each kind of engine. The values are those compile.ts wrote into plans before the
// plan stated intent (DOCKER_HOST and the rest in the plan, undone again in socket mode): a
// job's containers are made exactly as they were.

function planOf(file: string, text: string): JobPlan {
  return compileText({ file, text }, { defaultImage: 'busybox:latest', branch: 'main', event: 'push', trusted: true })[0]!;
}

function contextOf(plan: JobPlan, isolation: 'rootless' | 'socket'): JobContext {
  const disposable = isolation !== 'socket';
  return {
    id: 'job',
    engine: { isolation, name: 'engine' } as JobContext['engine'],
    docker: undefined as unknown as JobContext['docker'],
    network: disposable ? 'host' : 'job',
    engineNames: engineNames(plan.engineAliases),
    localNames: plan.services.flatMap((s) => [s.name, ...s.aliases]).concat(plan.steps.filter((s) => s.detach).map((s) => s.name)),
    disposable,
    workspaceVolume: 'job-workspace',
    workspaceMountpoint: '/mnt/ws',
    volumes: new Map(plan.volumes.map((v) => [v, `job-${v}`])),
    labels: {},
    secrets: {},
  };
}

/** The engine's part of a container's definition: its DOCKER_* variables, binds and names. */
function made(plan: JobPlan, isolation: 'rootless' | 'socket', c: PlanContainer, role: 'step' | 'service') {
  const o = containerOptions(contextOf(plan, isolation), c, role, [c.name]);
  return { env: (o.Env ?? []).filter((e) => e.startsWith('DOCKER_')).sort(), binds: o.HostConfig?.Binds, hosts: o.HostConfig?.ExtraHosts };
}

const TLS = ['DOCKER_CERT_PATH=/certs/client', 'DOCKER_HOST=tcp://docker:2376', 'DOCKER_TLS_VERIFY=1'];
const CERTS = '/nestor/certs/client:/certs/client:ro';
const SOCKET = '/var/run/docker.sock:/var/run/docker.sock';

test('a step talks to its nested engine over TLS by the `docker` alias, with the client certificates', () => {
  const plan = planOf('.nestor.yml', 'steps:\n  tcp: {run: docker ps}\n  sock: {run: docker ps, volumes: ["/var/run/docker.sock:/var/run/docker.sock"]}\n');
  const [tcp, sock] = plan.steps;
  assert.deepEqual(made(plan, 'rootless', tcp!, 'step'), { env: TLS, binds: ['job-workspace:/workspace', CERTS], hosts: ['docker:127.0.0.1'] });
  assert.deepEqual(made(plan, 'rootless', sock!, 'step'), { env: [], binds: ['job-workspace:/workspace', SOCKET, CERTS], hosts: ['docker:127.0.0.1'] });
});

test('in socket mode a step gets the host engine\'s socket instead, and no certificates', () => {
  const plan = planOf('.nestor.yml', 'steps:\n  tcp: {run: docker ps}\n  sock: {run: docker ps, volumes: ["/var/run/docker.sock:/var/run/docker.sock"]}\n');
  const [tcp, sock] = plan.steps;
  assert.deepEqual(made(plan, 'socket', tcp!, 'step'), { env: ['DOCKER_HOST=unix:///var/run/docker.sock'], binds: ['job-workspace:/workspace', SOCKET], hosts: [] });
  assert.deepEqual(made(plan, 'socket', sock!, 'step'), { env: [], binds: ['job-workspace:/workspace', SOCKET], hosts: [] });
});

test('the file\'s own DOCKER_* variables win; in socket mode a tcp:// one is pointed at the socket', () => {
  const plan = planOf('.nestor.yml', 'environment: {DOCKER_HOST: "tcp://docker:2375"}\nsteps:\n  own: {run: docker ps, environment: {DOCKER_TLS_VERIFY: ""}}\nservices:\n  db: {image: postgres, environment: {DOCKER_HOST: "tcp://elsewhere:2376"}}\n');
  const step = plan.steps[0]!;
  const db = plan.services[0]!;
  assert.deepEqual(made(plan, 'rootless', step, 'step').env, ['DOCKER_CERT_PATH=/certs/client', 'DOCKER_HOST=tcp://docker:2375', 'DOCKER_TLS_VERIFY=']);
  assert.deepEqual(made(plan, 'rootless', db, 'service'), { env: ['DOCKER_HOST=tcp://elsewhere:2376'], binds: ['job-workspace:/workspace'], hosts: ['docker:127.0.0.1', 'db:127.0.0.1'] });
  assert.deepEqual(made(plan, 'socket', step, 'step'), { env: ['DOCKER_HOST=unix:///var/run/docker.sock'], binds: ['job-workspace:/workspace', SOCKET], hosts: [] });
  assert.deepEqual(made(plan, 'socket', db, 'service'), { env: ['DOCKER_HOST=unix:///var/run/docker.sock'], binds: ['job-workspace:/workspace', SOCKET], hosts: [] });
});

test('a mount of the file\'s own at /certs/client wins over the certificates', () => {
  const plan = planOf('.nestor.yml', 'steps:\n  a: {run: ls, volumes: ["./sub:/certs/client:ro"]}\n');
  assert.deepEqual(made(plan, 'rootless', plan.steps[0]!, 'step').binds, ['job-workspace:/workspace', '/mnt/ws/sub:/certs/client:ro']);
});

test('GitLab: a dind service\'s names reach the engine, and its certificate directory has them', () => {
  const plan = planOf('.gitlab-ci.yml', 'services:\n  - name: docker:24-dind\n    alias: dockerd\n    variables: {DOCKER_TLS_CERTDIR: /tls}\nvariables:\n  DOCKER_HOST: tcp://dockerd:2376\nj:\n  script: [docker ps]\n');
  assert.deepEqual(made(plan, 'rootless', plan.steps[0]!, 'step'), {
    env: ['DOCKER_CERT_PATH=/certs/client', 'DOCKER_HOST=tcp://dockerd:2376', 'DOCKER_TLS_VERIFY=1'],
    binds: ['job-workspace:/builds/project', CERTS, '/nestor/certs/client:/tls/client:ro'],
    hosts: ['docker:127.0.0.1', 'dockerd:127.0.0.1'],
  });
  assert.deepEqual(made(plan, 'socket', plan.steps[0]!, 'step'), { env: ['DOCKER_HOST=unix:///var/run/docker.sock'], binds: ['job-workspace:/builds/project', SOCKET], hosts: [] });
});

test('Drone: the dind service\'s /var/run volume is the engine\'s own /var/run', () => {
  const plan = planOf('.drone.yml', [
    'kind: pipeline', 'type: docker', 'name: p', 'steps:', '  - name: b', '    image: docker:dind', '    volumes: [{name: sock, path: /var/run}]', '    commands: [docker ps]',
    'services:', '  - name: docker', '    image: docker:dind', '    privileged: true', '    volumes: [{name: sock, path: /var/run}]', 'volumes:', '  - name: sock', '    temp: {}', '',
  ].join('\n'));
  assert.deepEqual(made(plan, 'rootless', plan.steps[0]!, 'step'), { env: [], binds: ['job-workspace:/drone/src', '/var/run:/var/run', CERTS], hosts: ['docker:127.0.0.1'] });
  assert.deepEqual(made(plan, 'socket', plan.steps[0]!, 'step'), { env: [], binds: ['job-workspace:/drone/src', '/var/run:/var/run'], hosts: [] });
});
