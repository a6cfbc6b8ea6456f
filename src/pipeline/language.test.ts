import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compile, type CompileOptions } from './compile.ts';
import { PipelineError } from './errors.ts';
import { readPipelines } from './load.ts';
import type { JobPlan } from './plan.ts';

const opts: CompileOptions = { defaultImage: 'busybox:latest', branch: 'main', event: 'push' };

function plans(file: string, text: string, extra: Partial<CompileOptions> = {}): JobPlan[] {
  return readPipelines(file, text, { ...opts, ...extra }).flatMap(({ config, source }) => compile(config, source, { ...opts, ...extra }));
}

function problems(file: string, text: string, extra: Partial<CompileOptions> = {}): string {
  try {
    plans(file, text, extra);
  } catch (err) {
    assert.ok(err instanceof PipelineError, `expected a PipelineError, got ${String(err)}`);
    return err.message;
  }
  assert.fail('the pipeline was accepted');
}

test('malformed YAML is reported with file:line:column', () => {
  assert.match(problems('.nestor.yml', 'steps:\n  - name: a\n    run: [unclosed\n'), /^\.nestor\.yml:\d+:\d+: YAML syntax/);
});

test('an unknown key is named at its own line and column, with the likely key', () => {
  const message = problems('.nestor.yml', 'steps:\n  - name: build\n    comands: [make]\n');
  assert.match(message, /\.nestor\.yml:3:5: unknown key "comands" in step #1 \(did you mean "commands"\?\)/);
});

test('steps may be written as a map; the key is the name', () => {
  const [plan] = plans('.nestor.yml', 'steps:\n  one:\n    run: echo 1\n  two:\n    run: echo 2\n');
  assert.deepEqual(plan!.steps.map((s) => [s.name, s.dependsOn]), [['one', []], ['two', ['one']]]);
});

test('depends_on naming an unknown step is refused with a suggestion, at the entry that names it', () => {
  assert.match(problems('.nestor.yml', 'steps:\n  build: {run: make}\n  test: {run: make test, depends_on: [biuld]}\n'), /:3:39: step test depends on unknown step "biuld" \(did you mean "build"\?\)/);
});

test('a depends_on cycle is refused and shown', () => {
  assert.match(problems('.nestor.yml', 'steps:\n  a: {run: x, depends_on: [b]}\n  b: {run: y, depends_on: [a]}\n'), /cycle: a → b → a|cycle: b → a → b/);
});

test('volumes that leave the workspace are refused', () => {
  assert.match(problems('.nestor.yml', 'steps:\n  a:\n    run: ls\n    volumes: ["../secrets:/s"]\n'), /:4:15: volume source \.\.\/secrets leaves the workspace/);
});

test('host paths are refused unless the job is trusted', () => {
  const text = 'steps:\n  a:\n    run: ls\n    volumes: ["/etc:/host-etc:ro"]\n';
  assert.match(problems('.nestor.yml', text), /host path \/etc cannot be mounted: the job is not trusted/);
  const [plan] = plans('.nestor.yml', text, { trusted: true });
  assert.ok(plan!.steps[0]!.mounts.some((m) => m.kind === 'host' && m.path === '/etc' && m.readOnly));
});

test('a step needing a secret that was not given says how to give it', () => {
  assert.match(problems('.nestor.yml', 'steps:\n  a:\n    run: echo\n    secrets: [token]\n'), /needs the secret "token".*--secret token=VALUE/);
});

test('a matrix expands into one job per combination, with its values as variables', () => {
  const jobs = plans('.nestor.yml', 'matrix:\n  A: [1, 2]\n  B: [x, y, z]\nsteps:\n  s: {image: "busybox:${B}", run: echo}\n');
  assert.equal(jobs.length, 6);
  assert.deepEqual(jobs.map((j) => j.steps[0]!.image).sort(), ['busybox:x', 'busybox:x', 'busybox:y', 'busybox:y', 'busybox:z', 'busybox:z']);
  assert.equal(jobs[0]!.steps[0]!.environment.A, '1');
});

test('when: a branch condition skips the step and says why', () => {
  const [plan] = plans('.nestor.yml', 'steps:\n  deploy:\n    run: deploy\n    when: {branch: release/*}\n', { branch: 'main' });
  assert.match(plan!.steps[0]!.notRunBecause ?? '', /branch main does not match release\/\*/);
  const [onRelease] = plans('.nestor.yml', 'steps:\n  deploy:\n    run: deploy\n    when: {branch: release/*}\n', { branch: 'release/1.2' });
  assert.equal(onRelease!.steps[0]!.notRunBecause, undefined);
});

test('every step talks to its own job engine, through its environment unless it mounts the socket', () => {
  const [plan] = plans('.nestor.yml', 'steps:\n  tcp: {run: docker ps}\n  sock: {run: docker ps, volumes: ["/var/run/docker.sock:/var/run/docker.sock"]}\nservices:\n  db: {image: postgres}\n');
  const [tcp, sock] = plan!.steps;
  assert.deepEqual(tcp!.engine, { client: true, certDirs: [] });
  assert.deepEqual(sock!.engine, { client: false, certDirs: [] });
  assert.ok(sock!.mounts.some((m) => m.kind === 'engine-socket' && m.target === '/var/run/docker.sock'), 'the socket mount is the job engine\'s, never the host\'s');
  assert.deepEqual(plan!.services[0]!.engine, { client: false, certDirs: [] }, 'a service is not pointed at the engine');
  // How (variables, certificates, the socket) is the backend's to say: src/backend/docker/engine-transport.ts.
  for (const c of [tcp!, sock!]) assert.deepEqual(Object.keys(c.environment).filter((k) => k.startsWith('DOCKER_')), []);
  assert.deepEqual(plan!.engineAliases, []);
});

test('a variable of the file\'s own that names the engine is kept as written', () => {
  const [plan] = plans('.nestor.yml', 'environment: {DOCKER_HOST: "tcp://docker:2375"}\nsteps:\n  a: {run: docker ps}\n');
  assert.equal(plan!.steps[0]!.environment.DOCKER_HOST, 'tcp://docker:2375');
  assert.equal(plan!.steps[0]!.environment.DOCKER_TLS_VERIFY, undefined);
  assert.deepEqual(plan!.steps[0]!.engine, { client: true, certDirs: [] });
});

test('GitLab: a dind service is the job\'s engine under its names, with the certificates where the file expects them', () => {
  const text = 'services:\n  - name: docker:dind\n    alias: dockerd\n  - docker:24-dind\nvariables:\n  DOCKER_TLS_CERTDIR: /tls/\nj:\n  script: [docker ps]\n';
  const [plan] = plans('.gitlab-ci.yml', text);
  assert.equal(plan!.services.length, 0, 'no second daemon is started');
  assert.deepEqual(plan!.engineAliases, ['dockerd', 'docker']);
  assert.deepEqual(plan!.steps[0]!.engine, { client: true, certDirs: ['/tls/client'] });
  const [defaults] = plans('.gitlab-ci.yml', 'services: [docker:dind]\nj:\n  script: [docker ps]\n');
  assert.deepEqual(defaults!.steps[0]!.engine.certDirs, [], 'the image\'s default directory is where every step has them anyway');
});

test('Drone: plugin settings are named as unsupported, not ignored', () => {
  const text = 'kind: pipeline\ntype: docker\nname: p\nsteps:\n  - name: publish\n    image: plugins/docker\n    settings: {repo: x}\n';
  assert.match(problems('.drone.yml', text), /\.drone\.yml:7:5: "settings" is not supported by Nestor: plugins are not run/);
});

test('Drone: the /var/run volume shared with a dind service becomes the job engine\'s /var/run', () => {
  const text = [
    'kind: pipeline', 'type: docker', 'name: p', 'steps:', '  - name: b', '    image: docker:dind', '    volumes: [{name: sock, path: /var/run}]', '    commands: [docker ps]',
    'services:', '  - name: docker', '    image: docker:dind', '    privileged: true', '    volumes: [{name: sock, path: /var/run}]', 'volumes:', '  - name: sock', '    temp: {}', '',
  ].join('\n');
  const [plan] = plans('.drone.yml', text);
  assert.equal(plan!.services.length, 0, 'no second daemon is started');
  assert.ok(plan!.steps[0]!.mounts.some((m) => m.kind === 'engine-socket-dir' && m.target === '/var/run'));
  assert.equal(plan!.steps[0]!.engine.client, false, 'it finds the socket there itself');
  assert.deepEqual(plan!.engineAliases, ['docker']);
  assert.equal(plan!.workspace, '/drone/src');
});

test('Woodpecker: from_secret becomes a masked secret and depends_on a graph', () => {
  const text = 'steps:\n  a:\n    image: busybox\n    commands: [echo]\n  b:\n    image: busybox\n    environment:\n      T:\n        from_secret: tok\n    commands: [echo]\n    depends_on: [a]\n';
  const [plan] = plans('.woodpecker.yml', text, { secrets: ['tok'] });
  assert.deepEqual(plan!.steps[1]!.secrets, [{ name: 'tok', env: 'T' }]);
  assert.deepEqual(plan!.steps[1]!.dependsOn, ['a']);
});

test('GitLab: stages order jobs, needs overrides, include is refused', () => {
  const text = 'stages: [build, test]\nb:\n  stage: build\n  script: [make]\nt1:\n  stage: test\n  script: [make test]\nt2:\n  stage: test\n  needs: []\n  script: [lint]\n';
  const [plan] = plans('.gitlab-ci.yml', text);
  assert.deepEqual(plan!.steps.map((s) => [s.name, s.dependsOn]), [['b', []], ['t1', ['b']], ['t2', []]]);
  assert.match(problems('.gitlab-ci.yml', 'include: other.yml\nj:\n  script: [x]\n'), /\.gitlab-ci\.yml:1:1: "include" is not supported/);
});

test('GitLab: rules with if expressions decide which jobs run', () => {
  const text = 'deploy:\n  script: [deploy]\n  rules:\n    - if: $CI_COMMIT_BRANCH == "main" && $CI_PIPELINE_SOURCE != "schedule"\n      when: always\n    - when: never\n';
  assert.deepEqual(plans('.gitlab-ci.yml', text, { branch: 'main' })[0]!.steps[0]!.runOn, ['success', 'failure']);
  assert.match(plans('.gitlab-ci.yml', text, { branch: 'dev' })[0]!.steps[0]!.notRunBecause ?? '', /when: never/);
});

test('GitLab: a dind service with TLS turned off is refused with the reason', () => {
  const text = 'services: [docker:dind]\nvariables:\n  DOCKER_TLS_CERTDIR: ""\nj:\n  script: [docker ps]\n';
  assert.match(problems('.gitlab-ci.yml', text), /turns TLS off.*TLS only/);
});

test('a JSON pipeline (read without the YAML parser) still has its problems at line:column', () => {
  const text = '{\n "steps": [\n  {"name": "a", "run": "true"},\n  {"name": "a", "run": "true"}\n ]\n}\n';
  assert.match(problems('request.json', text), /^request\.json:4:3: the name "a" is used twice/);
});

test('a .json file that is not JSON is read as YAML, syntax errors included', () => {
  assert.equal(plans('request.json', 'steps:\n  - name: a\n    run: echo 1\n')[0]!.steps[0]!.name, 'a');
  assert.match(problems('request.json', '{"steps": [\n  {"name": "a"\n'), /^request\.json:\d+:\d+: YAML syntax/);
});

test('a repeated key in a JSON pipeline keeps its last value, as JSON does', () => {
  const [plan] = plans('request.json', '{"steps": [{"name": "a", "run": "echo 1", "run": "echo 2"}]}');
  assert.match(plan!.steps[0]!.script ?? "", /^echo 2$/m);
  assert.doesNotMatch(plan!.steps[0]!.script ?? "", /^echo 1$/m);
});
