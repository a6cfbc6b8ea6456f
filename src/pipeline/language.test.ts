import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compile, type CompileOptions } from './compile.ts';
import { PipelineError } from './errors.ts';
import { compileText, loadPlans, readPipelines } from './load.ts';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asOneJob } from './jobs-as-one.test-helper.ts';
import type { JobPlan } from './plan.ts';

const opts: CompileOptions = { defaultImage: 'busybox:latest', branch: 'main', event: 'push' };

function plans(file: string, text: string, extra: Partial<CompileOptions> = {}): JobPlan[] {
  return asOneJob(readPipelines(file, text, { ...opts, ...extra }).flatMap(({ config, source }) => compile(config, source, { ...opts, ...extra })));
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

test('an untrusted job never mounts a host path: a read-only one is refused, a writable one (a cache) is an empty volume of the job, said in a notice', () => {
  const text = 'steps:\n  a:\n    run: ls\n    volumes: ["/etc:/host-etc:ro"]\n';
  assert.match(problems('.nestor.yml', text), /host path \/etc cannot be mounted: the job is not trusted/);
  const [plan] = plans('.nestor.yml', text, { trusted: true });
  assert.ok(plan!.steps[0]!.mounts.some((m) => m.kind === 'host' && m.path === '/etc' && m.readOnly));
  const drone = 'kind: pipeline\nname: d\nvolumes:\n  - name: cache\n    host: {path: /tmp/drone-cache}\nsteps:\n  - name: a\n    image: golang\n    volumes: [{name: cache, path: /go/pkg}]\n    commands: [go build]\n  - name: b\n    image: golang\n    volumes: [{name: cache, path: /go/pkg}]\n    commands: [go test]\n';
  const [cache] = plans('.drone.yml', drone);
  const mounts = cache!.steps.map((s) => s.mounts.find((m) => m.target === '/go/pkg'));
  assert.ok(mounts.every((m) => m?.kind === 'volume' && m.name === 'host-tmp-drone-cache'), 'both steps share one volume of the job');
  assert.ok(!cache!.steps.some((s) => s.mounts.some((m) => m.kind === 'host')));
  assert.deepEqual(cache!.volumes, ['host-tmp-drone-cache']);
  // A cache only saves time: the job loses nothing else, and the notice says so.
  const said = cache!.notices.filter((n) => n.code === 'NESTOR_CACHE_COLD');
  assert.equal(said.length, 1);
  assert.equal(said[0]!.severity, 'info');
  assert.match(said[0]!.message, /the cache starts cold and only time is lost/);
  // Data the host holds, or keeps from the job, is lost: that is said as degraded.
  const data = plans('.drone.yml', 'kind: pipeline\nname: d\nvolumes:\n  - name: site\n    host: {path: /srv/www}\nsteps:\n  - name: a\n    image: golang\n    volumes: [{name: site, path: /public}]\n    commands: [make]\n')[0]!;
  assert.deepEqual(data.notices.filter((n) => n.severity === 'degraded').map((n) => n.code), ['NESTOR_HOST_PATH_EMPTY']);
  assert.ok(data.steps[0]!.mounts.some((m) => m.kind === 'volume' && m.target === '/public'));
  // The host's /etc/hosts is not mounted over the container's own, which names the services.
  const hosts = plans('.woodpecker.yml', 'steps:\n  a:\n    image: php\n    commands: [composer install]\n    volumes: ["/etc/hosts:/etc/hosts"]\n')[0]!;
  assert.ok(!hosts.steps[0]!.mounts.some((m) => m.target === '/etc/hosts'));
  assert.deepEqual(hosts.notices.filter((n) => n.code === 'NESTOR_HOST_FILE_OWN').map((n) => n.severity), ['info']);
  const [trusted] = plans('.drone.yml', drone, { trusted: true });
  assert.ok(trusted!.steps[0]!.mounts.some((m) => m.kind === 'host' && m.path === '/tmp/drone-cache'));
});

test('a step needing a secret that was not given says how to give it; where secrets are not known (lint, plan) it is a notice', () => {
  const text = 'steps:\n  a:\n    run: echo\n    secrets: [token]\n';
  assert.match(problems('.nestor.yml', text, { secrets: [] }), /needs the secret "token".*--secret token=VALUE/);
  const [plan] = plans('.nestor.yml', text);
  const notice = plan!.notices.find((n) => n.code === 'NESTOR_SECRET_NEEDED');
  assert.equal(notice?.severity, 'info');
  assert.match(notice!.message, /uses the secret "token".*--secret token=VALUE/);
  assert.equal(notice!.file, '.nestor.yml');
  assert.ok(notice!.line >= 2, 'at the step that uses it');
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

test('Drone and Woodpecker plugins: each setting is PLUGIN_NAME (lists joined, objects as JSON, secrets resolved); a daemon plugin gets the job engine', () => {
  const settings = '{repo: team/app, tags: [latest, "1.0"], build_args: {A: b}, dry_run: true, password: {from_secret: docker_password}}';
  const drone = `kind: pipeline\ntype: docker\nname: p\nsteps:\n  - name: publish\n    image: plugins/docker\n    settings: ${settings}\n`;
  const woodpecker = `steps:\n  publish:\n    image: woodpeckerci/plugin-docker-buildx\n    settings: ${settings}\n`;
  for (const [file, text] of [['.drone.yml', drone], ['.woodpecker.yml', woodpecker]] as const) {
    const step = plans(file, text, { secrets: ['docker_password'] })[0]!.steps[0]!;
    assert.equal(step.script, undefined, `${file}: the plugin's own entrypoint runs`);
    assert.equal(step.environment.PLUGIN_REPO, 'team/app');
    assert.equal(step.environment.PLUGIN_TAGS, 'latest,1.0');
    assert.equal(step.environment.PLUGIN_BUILD_ARGS, '{"A":"b"}');
    assert.equal(step.environment.PLUGIN_DRY_RUN, 'true');
    assert.deepEqual(step.secrets, [{ name: 'docker_password', env: 'PLUGIN_PASSWORD' }]);
    assert.equal(step.environment.PLUGIN_DAEMON_OFF, 'true', `${file}: the plugin starts no daemon of its own`);
    assert.ok(step.mounts.some((m) => m.kind === 'engine-socket' && m.target === '/var/run/docker.sock'), `${file}: it reaches the job's engine at its socket`);
  }
  const other = plans('.drone.yml', 'kind: pipeline\nname: p\nsteps:\n  - name: ssh\n    image: appleboy/drone-ssh\n    settings: {host: [a, b], port: 22}\n')[0]!.steps[0]!;
  assert.equal(other.environment.PLUGIN_HOST, 'a,b');
  assert.equal(other.environment.PLUGIN_DAEMON_OFF, undefined, 'other plugins are given no engine');
});

test('Drone and Woodpecker: `ref` conditions match the run\'s Git ref', () => {
  const text = 'kind: pipeline\nname: p\ntrigger:\n  ref: [refs/heads/main, "refs/tags/*"]\nsteps:\n  - name: a\n    image: busybox\n    commands: [echo]\n';
  assert.equal(plans('.drone.yml', text)[0]!.steps[0]!.notRunBecause, undefined);
  assert.match(plans('.drone.yml', text, { branch: 'dev' })[0]!.steps[0]!.notRunBecause ?? '', /ref refs\/heads\/dev does not match/);
  assert.equal(plans('.drone.yml', text, { tag: 'v1.0' })[0]!.steps[0]!.notRunBecause, undefined);
  const wp = 'steps:\n  a:\n    image: busybox\n    commands: [echo]\n    when:\n      ref: refs/tags/v*\n';
  assert.match(plans('.woodpecker.yml', wp)[0]!.steps[0]!.notRunBecause ?? '', /ref refs\/heads\/main does not match refs\/tags\/v\*/);
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

test('GitLab: stages order jobs, needs overrides, and a local include needs a repository to read it from', () => {
  const text = 'stages: [build, test]\nb:\n  stage: build\n  script: [make]\nt1:\n  stage: test\n  script: [make test]\nt2:\n  stage: test\n  needs: []\n  script: [lint]\n';
  const [plan] = plans('.gitlab-ci.yml', text);
  assert.deepEqual(plan!.steps.map((s) => [s.name, s.dependsOn]), [['b', []], ['t1', ['b']], ['t2', []]]);
  assert.match(problems('.gitlab-ci.yml', 'include: other.yml\nj:\n  script: [x]\n'), /\.gitlab-ci\.yml:1:10: include local other\.yml: there is no repository to read it from/);
});

test('GitLab: rules with if expressions decide which jobs run', () => {
  const text = 'deploy:\n  script: [deploy]\n  rules:\n    - if: $CI_COMMIT_BRANCH == "main" && $CI_PIPELINE_SOURCE != "schedule"\n      when: always\n    - when: never\n';
  assert.deepEqual(plans('.gitlab-ci.yml', text, { branch: 'main' })[0]!.steps[0]!.runOn, ['success', 'failure']);
  assert.match(plans('.gitlab-ci.yml', text, { branch: 'dev' })[0]!.steps[0]!.notRunBecause ?? '', /when: never/);
});

test('a dind service with TLS turned off (DOCKER_TLS_CERTDIR empty, --tls=false) is the job engine on a plain port, the file\'s address kept as written', () => {
  const gitlab = plans('.gitlab-ci.yml', 'services: [docker:dind]\nvariables:\n  DOCKER_HOST: tcp://docker:2375\n  DOCKER_TLS_CERTDIR: ""\nj:\n  script: [docker ps]\n')[0]!;
  assert.equal(gitlab.plainEngine, true);
  assert.equal(gitlab.steps[0]!.engine.plain, true);
  assert.equal(gitlab.steps[0]!.environment.DOCKER_HOST, 'tcp://docker:2375', 'the file\'s own address is kept; the backend reads its port');
  assert.ok(gitlab.notices.some((n) => n.code === 'NESTOR_DIND_PLAIN'));
  const drone = plans('.drone.yml', 'kind: pipeline\nname: d\nservices:\n  - name: docker\n    image: docker:dind\n    command: [--tls=false]\nsteps:\n  - name: s\n    image: docker:cli\n    environment: {DOCKER_HOST: "tcp://docker:2375"}\n    commands: [docker ps]\n')[0]!;
  assert.equal(drone.plainEngine, true);
  const tls = plans('.gitlab-ci.yml', 'services: [docker:dind]\nj:\n  script: [docker ps]\n')[0]!;
  assert.equal(tls.plainEngine, undefined);
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

test('Drone pipelines and Woodpecker workflows that depend on others become jobs that wait for them', () => {
  const drone = [
    'kind: pipeline', 'name: build', 'steps:', '  - name: b', '    image: busybox', '    commands: [echo]',
    '---', 'kind: pipeline', 'name: deploy', 'depends_on: [build]', 'steps:', '  - name: d', '    image: busybox', '    commands: [echo]',
    '---', 'kind: pipeline', 'name: notify', 'depends_on: [build, deploy]', 'trigger:', '  status: [success, failure]', 'steps:', '  - name: n', '    image: busybox', '    commands: [echo]', '',
  ].join('\n');
  const jobs = plans('.drone.yml', drone);
  assert.deepEqual(jobs.map((j) => [j.name, j.needs ?? [], j.runWhen ?? 'on_success']), [['build', [], 'on_success'], ['deploy', ['build'], 'on_success'], ['notify', ['build', 'deploy'], 'always']]);
  const wrong = drone.replace('depends_on: [build]', 'depends_on: [biuld]');
  assert.throws(() => compileText({ file: '.drone.yml', text: wrong }, opts), /\.drone\.yml:10:\d+: pipeline deploy depends on biuld, which is not a pipeline of this run \(did you mean "build"\?\)/);
  assert.equal(compileText({ file: '.drone.yml', text: drone }, opts).length, 3);
  const [wp] = plans('.woodpecker/deploy.yml', 'depends_on: [test]\nruns_on: [success, failure]\nsteps:\n  d:\n    image: busybox\n    commands: [echo]\n'.replace('test', 'deploy-base'));
  assert.equal(wp!.runWhen, 'always');
});

test('clone settings: copying the checkout loses nothing of the git plugin, and says so; a clone step of its own is named as not run', () => {
  const step = 'steps:\n  a:\n    image: busybox\n    commands: [echo]\n';
  const own = plans('.woodpecker.yml', `clone:\n  git:\n    image: woodpeckerci/plugin-git\n    settings: {depth: 1, tags: true}\n${step}`)[0]!.notices.find((n) => n.key === 'clone');
  assert.equal(own?.code, 'NESTOR_CLONE_COPIED');
  assert.equal(own?.severity, 'info');
  const custom = plans('.woodpecker.yml', `clone:\n  git:\n    image: alpine/git\n    commands: [git clone --filter=blob:none $CI_REPO_URL .]\n${step}`)[0]!.notices.find((n) => n.key === 'clone');
  assert.equal(custom?.code, 'NESTOR_CLONE_IGNORED');
  assert.equal(custom?.severity, 'degraded');
  const drone = plans('.drone.yml', 'kind: pipeline\nname: p\nclone: {depth: 50}\nnode: {zone: eu}\nsteps:\n  - name: a\n    image: busybox\n    commands: [echo]\n')[0]!.notices;
  assert.equal(drone.find((n) => n.key === 'clone')?.severity, 'info');
  assert.match(drone.find((n) => n.key === 'node')?.message ?? '', /node \(zone=eu\): on a server the pipeline goes only to a runner with these labels/);
  assert.equal(drone.find((n) => n.key === 'node')?.severity, 'info');
  assert.deepEqual(plans('.drone.yml', 'kind: pipeline\nname: p\nnode: {zone: eu}\nsteps:\n  - name: a\n    image: busybox\n    commands: [echo]\n')[0]!.runnerLabels, ['zone=eu']);
  assert.deepEqual(plans('.woodpecker.yml', 'labels: {platform: linux/arm64, gpu: "true"}\nsteps:\n  a:\n    image: busybox\n    commands: [echo]\n')[0]!.runnerLabels, ['platform=linux/arm64', 'gpu=true']);
});

test('a GitHub Actions workflow is read as one, by its folder or by its on: and jobs:', () => {
  const text = 'on: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - run: make test\n';
  for (const file of ['.github/workflows/ci.yml', 'ci.yml']) {
    const [plan] = compileText({ text, file }, opts);
    assert.equal(plan?.github?.jobId, 'test');
    assert.deepEqual(plan?.steps.map((s) => s.name), ['job-container', 'Run make test']);
  }
});

test('a Woodpecker workflow read on its own may depend on the workflows beside it, and on no other', async () => {
  const { mkdtempSync, mkdirSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { loadPlans } = await import('./load.ts');
  const dir = mkdtempSync(join(tmpdir(), 'nestor-wp-'));
  mkdirSync(join(dir, '.woodpecker'));
  const step = 'steps:\n  a:\n    image: busybox\n    commands: [echo]\n';
  writeFileSync(join(dir, '.woodpecker', 'build.yml'), step);
  writeFileSync(join(dir, '.woodpecker', 'deploy.yml'), `depends_on: [build]\n${step}`);
  writeFileSync(join(dir, '.woodpecker', 'docs.yml'), `depends_on: [biuld]\n${step}`);
  assert.deepEqual(loadPlans(dir, '.woodpecker/deploy.yml', opts).map((p) => p.needs), [['build']]);
  // A workflow named that is not in the folder is a missing file of the repository.
  assert.throws(
    () => loadPlans(dir, '.woodpecker/docs.yml', opts),
    (err: PipelineError) => err.problems[0]?.code === 'NESTOR_FILE_NOT_FOUND' && /docs\.yml:1:\d+: workflow docs depends on biuld, but the repository has no \.woodpecker\/biuld\.yml \(did you mean "build"\?\): add that workflow/.test(err.message),
  );
});

test("Drone's and Woodpecker's step user is the user the container runs as, inside the job's engine", () => {
  const drone = plans('.drone.yml', 'kind: pipeline\nname: p\nsteps:\n  - name: a\n    image: node:20\n    user: 1000\n    commands: [npm test]\n')[0]!.steps[0]!;
  assert.equal(drone.user, '1000');
  const wp = plans('.woodpecker.yml', 'steps:\n  a:\n    image: node:20\n    user: node\n    commands: [npm test]\n')[0]!.steps[0]!;
  assert.equal(wp.user, 'node');
  // Woodpecker's Docker backend takes it from backend_options too; the Kubernetes backend's options do not apply.
  const [opts] = plans('.woodpecker.yml', 'steps:\n  a:\n    image: golang\n    commands: [go vet]\n    backend_options:\n      docker: {user: "1000:1000"}\n      kubernetes: {serviceAccountName: ci}\n');
  assert.equal(opts!.steps[0]!.user, '1000:1000');
  assert.deepEqual(opts!.notices.filter((n) => n.key === 'steps.a.backend_options').map((n) => [n.code, n.severity]), [['NESTOR_BACKEND_USER', 'info'], ['NESTOR_BACKEND_OPTIONS_IGNORED', 'degraded']]);
  assert.match(opts!.notices.find((n) => n.code === 'NESTOR_BACKEND_OPTIONS_IGNORED')!.message, /\(kubernetes\)/);
  assert.equal(plans('.nestor.yml', 'steps:\n  a: {run: echo}\n')[0]!.steps[0]!.user, undefined);
});

test("Drone: depends_on: [clone] names Drone's own clone step, whose work (the source) is always there", () => {
  const [plan] = plans('.drone.yml', 'kind: pipeline\nname: p\nsteps:\n  - name: build\n    image: busybox\n    commands: [make]\n    depends_on: [clone]\n  - name: up\n    image: busybox\n    commands: [echo]\n    pull: true\n    depends_on: [clone, build]\n');
  assert.deepEqual(plan!.steps.map((s) => [s.name, s.dependsOn]), [['build', []], ['up', ['build']]]);
});

test('Drone and Woodpecker pull: said in a notice of what it means with a new engine per job', () => {
  const [drone] = plans('.drone.yml', 'kind: pipeline\nname: d\nsteps:\n  - name: a\n    image: golang\n    pull: always\n    commands: [go build]\n  - name: b\n    image: golang\n    pull: true\n    commands: [go vet]\n');
  const said = drone!.notices.filter((n) => n.code === 'NESTOR_PULL_POLICY');
  assert.deepEqual(said.map((n) => [n.severity, /pull always: the job engine is new/.test(n.message)]), [['info', true], ['info', true]]);
  const [woodpecker] = plans('.woodpecker.yml', 'steps:\n  a:\n    image: golang\n    pull: true\n    commands: [go build]\n');
  assert.ok(woodpecker!.notices.some((n) => n.code === 'NESTOR_PULL_POLICY' && n.key?.endsWith('pull')), JSON.stringify(woodpecker!.notices));
});

test('Woodpecker when: matrix runs a step only in the matrix jobs with those values; Drone and Woodpecker step names may hold spaces', () => {
  const text = 'matrix:\n  include:\n    - {PHP: "8.1"}\n    - {PHP: "8.2"}\nsteps:\n  test:\n    image: php\n    commands: [phpunit]\n  coverage:\n    image: php\n    when:\n      matrix: {PHP: 8.2}\n    commands: [upload]\n';
  const jobs = plans('.woodpecker.yml', text);
  assert.deepEqual(jobs.map((j) => [j.matrix.PHP, j.steps.find((s) => s.name === 'coverage')!.notRunBecause ?? 'runs']), [['8.1', 'matrix PHP is 8.1, not 8.2'], ['8.2', 'runs']]);
  const drone = plans('.drone.yml', 'kind: pipeline\nname: d\nsteps:\n  - name: runner identification\n    image: alpine\n    commands: [echo]\n  - name: deps\n    image: alpine\n    depends_on: [runner identification]\n    commands: [make]\n')[0]!;
  assert.deepEqual(drone.steps.map((s) => [s.name, s.dependsOn]), [['runner identification', []], ['deps', ['runner identification']]]);
  assert.match(problems('.drone.yml', 'kind: pipeline\nname: d\nservices:\n  - name: my db\n    image: postgres\nsteps:\n  - name: a\n    image: alpine\n    commands: [echo]\n'), /"my db" is not a valid name/, 'a service is reached by its name, a hostname');
});

test('a Drone host volume written as a bare path is that host path, with a notice that Drone itself would refuse it', () => {
  const text = 'kind: pipeline\nname: p\nsteps:\n  - name: a\n    image: golang\n    volumes: [{name: docker, path: /var/lib/docker}]\n    commands: [go test]\nvolumes:\n  - name: docker\n    host: /var/lib/docker\n';
  const [job] = plans('.drone.yml', text);
  const said = job!.notices.find((n) => n.code === 'NESTOR_HOST_AS_PATH');
  assert.equal(said?.severity, 'info');
  assert.ok(job!.steps[0]!.mounts.some((m) => m.target === '/var/lib/docker'), JSON.stringify(job!.steps[0]!.mounts));
  assert.match(said!.message, /host: \/var\/lib\/docker is read as host: \{path: \/var\/lib\/docker\}: Drone's own runner refuses the bare path/);
  assert.deepEqual(plans('.drone.yml', text.replace('host: /var/lib/docker', 'host: {path: /var/lib/docker}'))[0]!.steps[0]!.mounts, job!.steps[0]!.mounts, 'the same mount as the map gives');
});

test('a Drone 0.8 file (pipeline: a map, no kind:) is read as Woodpecker reads it, its plugin steps\' own keys as settings, status changed said', () => {
  const text = 'workspace:\n  base: /go\n  path: src/example.com/tool\npipeline:\n  build:\n    image: golang:1.22\n    commands: [go build]\n  publish:\n    image: plugins/s3\n    bucket: releases\n    acl: public-read\n    when:\n      event: [push]\n  notify:\n    image: appleboy/drone-discord\n    when:\n      status: [changed, failure]\n';
  const [job] = plans('.drone.yml', text);
  assert.deepEqual(job!.steps.map((s) => s.name), ['build', 'publish', 'notify']);
  assert.equal(job!.workspace, '/go/src/example.com/tool');
  const publish = job!.steps.find((s) => s.name === 'publish')!;
  assert.equal(publish.environment.PLUGIN_BUCKET, 'releases');
  assert.equal(publish.environment.PLUGIN_ACL, 'public-read');
  assert.equal(job!.notices.find((n) => n.code === 'NESTOR_DRONE_LEGACY')?.severity, 'info');
  assert.equal(job!.notices.find((n) => n.code === 'NESTOR_STATUS_CHANGED_UNKNOWN')?.severity, 'degraded');
  assert.deepEqual(job!.steps.find((s) => s.name === 'notify')!.runOn, ['failure']);
});

test('a Woodpecker environment value that is a list is joined with commas, a map written as JSON, as Woodpecker does', () => {
  const [job] = plans('.woodpecker.yml', 'steps:\n  build:\n    image: golang\n    environment:\n      PLATFORMS:\n        - linux/amd64\n        - linux/arm64\n      OPTS: {a: 1}\n    commands: [echo $PLATFORMS]\n');
  assert.equal(job!.steps[0]!.environment.PLATFORMS, 'linux/amd64,linux/arm64');
  assert.equal(job!.steps[0]!.environment.OPTS, '{"a":1}');
});

test('a GitLab image naming a variable of the project\'s settings leaves that job out, saying how to give it; the others run; nested cache lists are flattened', () => {
  const text = '.caches: &caches\n  - key: go\n    paths: [.go/]\nbuild:\n  image: "${BUILDER_REGISTRY}/ubuntu:22.04"\n  cache:\n    - *caches\n    - key: apt\n      paths: [apt/]\n  script: [make]\ntest:\n  image: alpine\n  script: [make test]\n';
  const byJob = (extra: Partial<CompileOptions> = {}) => compileText({ text, file: '.gitlab-ci.yml' }, { ...opts, ...extra });
  const jobs = byJob();
  const build = jobs.find((j) => j.name === 'build')!;
  assert.match(build.steps[0]!.notRunBecause ?? '', /its image names a variable that is not set/);
  const said = build.notices.find((n) => n.code === 'NESTOR_IMAGE_VARIABLE_UNSET');
  assert.equal(said?.severity, 'degraded');
  assert.match(said!.message, /give it with --env NAME=VALUE/);
  assert.equal(jobs.find((j) => j.name === 'test')!.steps[0]!.notRunBecause, undefined);
  const given = byJob({ env: { BUILDER_REGISTRY: 'registry.example.com' } }).find((j) => j.name === 'build')!;
  assert.deepEqual([given.steps[0]!.image, given.steps[0]!.notRunBecause], ['registry.example.com/ubuntu:22.04', undefined]);
});

test('a GitHub matrix of several expression axes: over a reusable workflow\'s input defaults it is expanded now; over needs, all wait and expand together', () => {
  const called = 'on:\n  workflow_call:\n    inputs:\n      pythons: {type: string, default: \'["3.12", "3.13"]\'}\n      envs: {type: string, default: \'["redis", "amqp"]\'}\njobs:\n  t:\n    runs-on: ubuntu-latest\n    strategy:\n      matrix:\n        python: ${{ fromJson(inputs.pythons) }}\n        env: ${{ fromJson(inputs.envs) }}\n    steps:\n      - run: tox -e ${{ matrix.env }}\n';
  const now = compileText({ text: called, file: '.github/workflows/t.yml' }, opts);
  assert.deepEqual(now.map((p) => p.github?.matrix), [{ python: '3.12', env: 'redis' }, { python: '3.12', env: 'amqp' }, { python: '3.13', env: 'redis' }, { python: '3.13', env: 'amqp' }]);
  const overNeeds = 'on: push\njobs:\n  plan:\n    runs-on: ubuntu-latest\n    outputs: {a: "${{ steps.s.outputs.a }}", b: "${{ steps.s.outputs.b }}"}\n    steps:\n      - {id: s, run: echo}\n  t:\n    needs: plan\n    runs-on: ubuntu-latest\n    strategy:\n      matrix:\n        a: ${{ fromJson(needs.plan.outputs.a) }}\n        b: ${{ fromJson(needs.plan.outputs.b) }}\n    steps:\n      - run: echo\n';
  const waiting = compileText({ text: overNeeds, file: '.github/workflows/n.yml' }, opts).filter((p) => p.pipeline === 't');
  assert.deepEqual(waiting.map((p) => [p.github?.matrix, Boolean(p.github?.matrixFromNeeds)]), [[{}, true]]);
  const ran = compileText({ text: overNeeds, file: '.github/workflows/n.yml' }, { ...opts, needs: { plan: { result: 'success', outputs: { a: '[1, 2]', b: '["x"]' } } } }).filter((p) => p.pipeline === 't');
  assert.deepEqual(ran.map((p) => p.github?.matrix), [{ a: 1, b: 'x' }, { a: 2, b: 'x' }]);
});

test('a GitHub service volume over ${{ github.workspace }} is that folder of the job\'s workspace', () => {
  const text = 'on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    services:\n      fuzz:\n        image: crossbario/autobahn-testsuite\n        volumes:\n          - ${{ github.workspace }}/test/config:/config\n          - cache:/cache\n    steps:\n      - run: echo\n';
  const [job] = compileText({ text, file: '.github/workflows/ci.yml' }, opts);
  const mounts = job!.services[0]!.mounts.filter((m) => m.target !== '/github/workspace');
  assert.deepEqual(mounts.map((m) => ('subPath' in m ? [m.kind, m.subPath, m.target] : [m.kind, m.target])), [['workspace', 'test/config', '/config'], ['volume', '/cache']]);
});

test('a Woodpecker step may share a service\'s name, as Woodpecker allows; two steps of one name are still refused', () => {
  const [job] = plans('.woodpecker.yml', 'services:\n  postgres:\n    image: postgres\nsteps:\n  postgres:\n    image: golang\n    commands: [go test ./store/postgres]\n');
  assert.deepEqual([job!.steps.map((s) => s.name), job!.services.map((s) => s.name)], [['postgres'], ['postgres']]);
  assert.match(problems('.woodpecker.yml', 'steps:\n  - name: a\n    image: golang\n    commands: [x]\n  - name: a\n    image: golang\n    commands: [y]\n'), /the name "a" is used twice/);
});

test('GitLab: a need naming one instance of a parallel:matrix by its own name, artifacts written under gitlab.com\'s /builds/GROUP/PROJECT, a dependency that keeps nothing', () => {
  const text = [
    'stages: [build, deploy]',
    't_fedora:',
    '  stage: build',
    '  parallel:',
    '    matrix:',
    '      - {RUN: [gcc, clang]}',
    '  script: [make]',
    '  artifacts:',
    '    paths: [/builds/OpenMW/openmw/out/log.txt]',
    'lint:',
    '  stage: deploy',
    '  script: [lint]',
    'pages:',
    '  stage: deploy',
    '  needs: ["t_fedora: [gcc]"]',
    '  dependencies: ["t_fedora: [gcc]", lint]',
    '  script: [publish]',
    '',
  ].join('\n');
  const jobs = compileText({ text, file: '.gitlab-ci.yml' }, opts);
  const pages = jobs.find((j) => j.name === 'pages')!;
  assert.deepEqual(pages.after?.map((a) => a.job), ['t_fedora: [gcc]']);
  assert.deepEqual(pages.artifactsFrom, ['t_fedora: [gcc]']);
  assert.deepEqual(jobs.find((j) => j.name === 't_fedora: [gcc]')!.artifacts?.paths, ['out/log.txt']);
  const all = jobs.flatMap((j) => j.notices);
  assert.equal(all.find((n) => n.code === 'NESTOR_ARTIFACTS_PROJECT_DIR')?.severity, 'info');
  const lint = all.find((n) => n.code === 'NESTOR_ARTIFACTS_UNKNOWN_JOB' && /names lint/.test(n.message));
  assert.deepEqual([lint?.severity, /keeps none anyway/.test(lint?.message ?? '')], ['info', true]);
});

test('a Woodpecker environment written as a list of NAME=VALUE is the map it means, with a notice that Woodpecker 3 refuses it', () => {
  const [job] = plans('.woodpecker.yml', 'steps:\n  build:\n    image: debian\n    environment:\n      - DEBIAN_FRONTEND="noninteractive"\n      - CC=gcc\n    commands: [make]\n');
  assert.deepEqual([job!.steps[0]!.environment.DEBIAN_FRONTEND, job!.steps[0]!.environment.CC], ['noninteractive', 'gcc']);
  assert.equal(job!.notices.find((n) => n.code === 'NESTOR_ENVIRONMENT_LIST')?.severity, 'info');
});

test('a GitHub local action an earlier step checks out (actions/checkout with path:) is left out, said, and the file is not refused; one that is simply missing still is', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nestor-action-'));
  mkdirSync(join(dir, '.github', 'workflows'), { recursive: true });
  const workflow = (checkout: string) => `on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n${checkout}      - uses: ./action\n        with: {x: 1}\n      - run: echo after\n`;
  writeFileSync(join(dir, '.github', 'workflows', 'ci.yml'), workflow('      - uses: actions/checkout@v4\n        with: {path: action}\n'));
  const [job] = loadPlans(dir, undefined, opts);
  const said = job!.notices.find((n) => n.code === 'NESTOR_ACTION_UNSUPPORTED');
  assert.equal(said?.severity, 'degraded');
  assert.match(said!.message, /checks out into action, readable only as the job runs/);
  writeFileSync(join(dir, '.github', 'workflows', 'ci.yml'), workflow(''));
  assert.throws(() => loadPlans(dir, undefined, opts), /the repository has no action\/action.yml/);
});
