import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { compileText, discover, loadPlans } from './load.ts';
import type { JobPlan } from './plan.ts';

// The plan says what, not how: a step talks to its job's Docker engine, a dind service is that
// engine under its names, a volume is the engine's socket directory. How (an address, a port,
// certificates) is the backend's (src/backend/docker/engine-transport.ts). So no plan may carry an
// engine address, port or certificate path that its pipeline file did not write itself.

const ROOT = new URL('../../', import.meta.url).pathname;
const EXAMPLES = join(ROOT, 'examples');

/** What transport looks like: none of it may come from anywhere but the file. */
const TRANSPORT = ['2376', 'tcp://docker', '/certs/client', 'DOCKER_CERT_PATH', 'DOCKER_TLS_VERIFY', 'DOCKER_HOST'];

const OPTS = { defaultImage: 'busybox:latest', branch: 'main', event: 'push', secrets: ['api_token', 'tok', 'notify_token'], trusted: true };

/**
 * Pipelines of the tests, in every format, with everything that touches the engine: a plain
 * step, the socket and its directory mounted, dind services with and without their own
 * certificate directory and aliases, the file's own DOCKER_* variables, services, matrices.
 */
const FIXTURES: { file: string; text: string }[] = [
  { file: '.nestor.yml', text: 'steps:\n  tcp: {run: docker ps}\n  sock: {run: docker ps, volumes: ["/var/run/docker.sock:/var/run/docker.sock"]}\n' },
  { file: '.nestor.yml', text: 'matrix:\n  A: [1, 2]\nservices:\n  - name: db\n    image: postgres\n    ports: [5432]\nsteps:\n  a: {run: echo, volumes: ["./sub:/data:ro", "cache:/cache"]}\n  d: {run: sleep 100, detach: true}\n  e: {image: alpine, entrypoint: [sh, -c], command: ["echo hi"]}\n' },
  { file: '.nestor.yml', text: 'environment: {DOCKER_HOST: "tcp://docker:2375"}\nsteps:\n  own: {run: docker ps}\n' },
  { file: '.nestor.yml', text: 'steps:\n  pull:\n    image: docker:27-cli\n    commands: [docker pull nestor-test/nowhere:1 || true]\n' },
  { file: '.gitlab-ci.yml', text: 'services: [docker:dind]\nj:\n  image: docker:cli\n  script: [docker ps]\n' },
  { file: '.gitlab-ci.yml', text: 'services:\n  - name: docker:24-dind\n    alias: dockerd\n    variables: {DOCKER_TLS_CERTDIR: /tls}\nj:\n  script: [docker -H dockerd ps]\nk:\n  script: [ls]\n  services: [redis]\n' },
  { file: '.gitlab-ci.yml', text: 'stages: [build, test]\nb:\n  stage: build\n  script: [make]\nt1:\n  stage: test\n  script: [make test]\nt2:\n  stage: test\n  needs: []\n  script: [lint]\n' },
  {
    file: '.drone.yml',
    text: [
      'kind: pipeline', 'type: docker', 'name: p', 'steps:', '  - name: b', '    image: docker:dind', '    volumes: [{name: sock, path: /var/run}]', '    commands: [docker ps]',
      'services:', '  - name: docker', '    image: docker:dind', '    privileged: true', '    volumes: [{name: sock, path: /var/run}]', 'volumes:', '  - name: sock', '    temp: {}', '',
    ].join('\n'),
  },
  { file: '.woodpecker.yml', text: 'steps:\n  a:\n    image: busybox\n    commands: [echo]\n    volumes: [/var/run/docker.sock:/var/run/docker.sock]\n  b:\n    image: busybox\n    environment:\n      T:\n        from_secret: tok\n    commands: [echo]\n    depends_on: [a]\n' },
];

/** Every example directory that has a pipeline file: its plans, and the text of its files. */
function examples(): { name: string; text: string; plans: JobPlan[] }[] {
  return readdirSync(EXAMPLES)
    .filter((d) => statSync(join(EXAMPLES, d)).isDirectory())
    .flatMap((d) => {
      const dir = join(EXAMPLES, d);
      let files: string[];
      try {
        files = discover(dir);
      } catch {
        return []; // no pipeline file (a GitOps manifest, zerverless.yaml)
      }
      const text = files.flatMap((f) => (statSync(f).isDirectory() ? readdirSync(f).map((g) => join(f, g)) : [f])).map((f) => readFileSync(f, 'utf8')).join('\n');
      return [{ name: `examples/${d}`, text, plans: loadPlans(dir, undefined, OPTS) }];
    });
}

function corpus(): { name: string; text: string; plans: JobPlan[] }[] {
  return [...examples(), ...FIXTURES.map((f, i) => ({ name: `fixture ${i + 1} (${f.file})`, text: f.text, plans: compileText(f, OPTS) }))];
}

/** The file's text without its comment lines: a comment that names an address writes nothing. */
const written = (text: string) => text.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n');

/**
 * What in a plan carries transport its file did not write: a variable that names the engine
 * (by its name or its value) which the file does not set itself; a certificate directory that
 * is not `$DOCKER_TLS_CERTDIR/client` of a directory the file names; an engine alias the file
 * does not name; and any other text of the plan (mounts, scripts, commands, entrypoints,
 * images, names) with an address, port or path of the engine that the file does not have.
 */
function problemsOf(plan: JobPlan, text: string): string[] {
  const source = written(text);
  const found: string[] = [];
  const containers = [...plan.steps, ...plan.services];
  for (const c of containers) {
    for (const [k, v] of Object.entries(c.environment)) {
      const transport = k.startsWith('DOCKER_') || TRANSPORT.some((t) => v.includes(t));
      if (transport && !new RegExp(`\\b${k}\\b`).test(source)) found.push(`${c.name}: ${k}=${v} is set, not by the file`);
    }
    for (const dir of c.engine.certDirs) {
      if (!dir.endsWith('/client') || !source.includes(dir.slice(0, -'/client'.length))) found.push(`${c.name}: certificate directory ${dir} is not the file's`);
    }
  }
  for (const alias of plan.engineAliases) if (!source.includes(alias)) found.push(`engine alias ${alias} is not the file's`);
  const rest = JSON.stringify({ ...plan, steps: plan.steps.map(({ environment: _e, engine: _g, ...c }) => c), services: plan.services.map(({ environment: _e, engine: _g, ...c }) => c) });
  for (const t of TRANSPORT) if (rest.includes(t) && !source.includes(t)) found.push(`"${t}" is in the plan, not in the file`);
  return found;
}

test('no plan of an example or a fixture carries an engine address, port or certificate path its file did not write', () => {
  const all = corpus();
  assert.ok(all.filter((c) => c.name.startsWith('examples/')).length >= 8, `every example is read: ${all.map((c) => c.name)}`);
  const found = all.flatMap((c) => c.plans.flatMap((p) => problemsOf(p, c.text).map((why) => `${c.name}, job ${p.name}: ${why}`)));
  assert.deepEqual(found, []);
});

test('the plans say what each container needs of the engine instead', () => {
  const plans = corpus().flatMap((c) => c.plans);
  const steps = plans.flatMap((p) => p.steps);
  // Steps that do not mount the socket talk to the engine through their environment; no service does.
  for (const s of steps) assert.equal(s.engine.client, !s.mounts.some((m) => m.kind === 'engine-socket' || m.kind === 'engine-socket-dir'), s.name);
  for (const s of plans.flatMap((p) => p.services)) assert.deepEqual(s.engine, { client: false, certDirs: [] }, s.name);
  assert.ok(steps.some((s) => s.mounts.some((m) => m.kind === 'engine-socket')), 'a fixture mounts the socket');
  assert.ok(steps.some((s) => s.mounts.some((m) => m.kind === 'engine-socket-dir')), 'a fixture mounts its directory');
  assert.ok(steps.some((s) => s.engine.certDirs.length), 'a fixture has a dind service with its own certificate directory');
  assert.ok(plans.some((p) => p.engineAliases.length), 'a fixture has a dind service');
});

test('a file\'s own engine address is kept exactly as written', () => {
  const [plan] = compileText(FIXTURES[2]!, OPTS);
  assert.equal(plan!.steps[0]!.environment.DOCKER_HOST, 'tcp://docker:2375');
  // GitLab expands its variables in its variables: DOCKER_CERT_PATH is "$DOCKER_TLS_CERTDIR/client" in the file.
  const [gitlab] = loadPlans(join(EXAMPLES, 'gitlab-dind'), undefined, OPTS);
  assert.deepEqual(
    Object.entries(gitlab!.steps[0]!.environment).filter(([k]) => k.startsWith('DOCKER_')),
    [['DOCKER_HOST', 'tcp://docker:2376'], ['DOCKER_TLS_CERTDIR', '/certs'], ['DOCKER_TLS_VERIFY', '1'], ['DOCKER_CERT_PATH', '/certs/client']],
  );
});

test('the pipeline\'s own code names no engine address, port or certificate path', () => {
  const files = (dir: string): string[] => readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? files(join(dir, f)) : [join(dir, f)]));
  const code = files(join(ROOT, 'src/pipeline')).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'));
  assert.ok(code.length > 10 && code.every(existsSync));
  const found = code.flatMap((f) => ['2376', 'tcp://', '/certs/', 'DOCKER_CERT_PATH', 'DOCKER_TLS_VERIFY', 'DOCKER_HOST'].filter((t) => readFileSync(f, 'utf8').includes(t)).map((t) => `${f.slice(ROOT.length)}: ${t}`));
  assert.deepEqual(found, []);
});
