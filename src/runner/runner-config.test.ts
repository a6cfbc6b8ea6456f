import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRunnerConfig, RunnerConfigError } from './runner-config.ts';
import { substitute } from './config-vars.ts';
import { effectiveRunnerSettings } from './runner-settings.ts';
import { daemonArgs } from '../engine/nested/daemon-args.ts';
import { withRunnerVolumes } from '../backend/docker/engine-source.ts';
import type { JobSpec } from '../backend/backend.ts';

const DEFAULTS = { name: 'host-1', maxJobs: 3, stepImage: 'busybox:latest' };

/** The problems of a file that must not parse, as `line:column: message`. */
function problemsOf(text: string, env: NodeJS.ProcessEnv = {}, opts = {}): string[] {
  try {
    parseRunnerConfig('runner.yaml', text, env, opts);
  } catch (err) {
    assert.ok(err instanceof RunnerConfigError, String(err));
    assert.equal(err.code, 'NESTOR_RUNNER_CONFIG_INVALID');
    assert.match(err.hint, /--check/);
    return err.message.split('\n').map((l) => l.replace(/^runner\.yaml:/, ''));
  }
  assert.fail('the file parsed');
}

test('a valid file reads into typed settings: sizes in MiB, counts and flags from ${VAR} text', () => {
  const config = parseRunnerConfig(
    'runner.yaml',
    `server: { url: "https://ci.example.com", token: "\${NESTOR_RUNNER_TOKEN}" }
runner: { name: build-1, labels: [gpu], max_concurrent_jobs: "\${JOBS:-4}", warm: 1, trusted: "\${TRUSTED}" }
engine:
  isolation: dind-caps
  memory: 1.5g
  cpus: "0.5"
  volumes: [/srv/cache, "/srv/keys:/keys:ro"]
  log: { driver: local, max_size: 10m, max_file: 3 }
  daemon: { default-runtime: runcvm, runtimes: { runcvm: { path: /opt/runcvm } } }
images: { default: alpine:3.20, platforms: { ubuntu-latest: my/runner:1 } }
logging: { level: debug, format: json }
`,
    { NESTOR_RUNNER_TOKEN: 'secret', TRUSTED: 'true' },
  );
  assert.equal(config.server?.token, 'secret');
  assert.equal(config.runner?.max_concurrent_jobs, 4);
  assert.equal(config.runner?.trusted, true);
  assert.equal(config.engine?.memory, 1536);
  assert.equal(config.engine?.cpus, 0.5);
  assert.deepEqual(config.engine?.volumes, [
    { source: '/srv/cache', target: '/srv/cache', readOnly: false },
    { source: '/srv/keys', target: '/keys', readOnly: true },
  ]);
  assert.deepEqual(config.engine?.daemon, { 'default-runtime': 'runcvm', runtimes: { runcvm: { path: '/opt/runcvm' } } });
  assert.deepEqual(config.images?.platforms, { 'ubuntu-latest': 'my/runner:1' });
});

test('every problem is reported at once, each at its line and column, unknown keys with a suggestion', () => {
  const problems = problemsOf(`runner:
  labls: [gpu]
  max_concurrent_jobs: 0
engine:
  isolaton: rootless
  memory: 4
  registry_mirrors: ["ftp://mirror"]
docker: {}
logging: { level: verbose }
`);
  assert.deepEqual(problems, [
    '2:3: unknown key "runner.labls" (did you mean "labels"?); "runner" takes name, labels, max_concurrent_jobs, warm, trusted',
    '3:24: runner.max_concurrent_jobs: expected a whole number of at least 1',
    '5:3: unknown key "engine.isolaton" (did you mean "isolation"?); "engine" takes isolation, network, memory, cpus, volumes, registry_mirrors, insecure_registries, log, daemon',
    '6:11: engine.memory: expected a size with its unit, like "4g" or "512m", not 4',
    '7:22: engine.registry_mirrors[0]: expected an http:// or https:// URL',
    '8:1: unknown key "docker" (did you mean "engine"?); the file takes server, runner, engine, images, logging',
    '9:19: logging.level: Invalid option: expected one of "trace"|"debug"|"info"|"warn"|"error"',
  ]);
});

test('${VAR} substitution: defaults, escapes, and a missing variable named where it is used', () => {
  assert.deepEqual(substitute('${A}-${B:-b}-${C:-c}', { A: 'a', C: '' }), { value: 'a-b-c' });
  assert.deepEqual(substitute('$${A} costs $5', { A: 'a' }), { value: '${A} costs $5' });
  assert.match((substitute('${1X}', {}) as { problem: string }).problem, /not a variable reference/);
  assert.match((substitute('${A', {}) as { problem: string }).problem, /unclosed/);
  assert.deepEqual(problemsOf('server:\n  url: https://ci\n  token: ${NESTOR_RUNNER_TOKEN}\n'), [
    '3:10: environment variable NESTOR_RUNNER_TOKEN is not set (write ${NESTOR_RUNNER_TOKEN:-default} to give a default)',
  ]);
});

test('extra volumes and host-root modes only on a trusted runner; daemon.json keys Nestor sets are refused', () => {
  const file = 'engine:\n  isolation: dind\n  volumes: [/srv/cache]\n  daemon:\n    mtu: 1400\n    registry-mirrors: []\n';
  const problems = problemsOf(file);
  assert.equal(problems.length, 4);
  assert.match(problems[0]!, /^2:14: engine.isolation dind gives every job root on this host/);
  assert.match(problems[1]!, /^3:3: engine.volumes mounts host folders into every job, which only a trusted runner may do: set runner.trusted: true/);
  assert.match(problems[2]!, /^5:5: engine.daemon."mtu" cannot be set here/);
  assert.match(problems[3]!, /^6:5: engine.daemon."registry-mirrors" cannot be set here: use engine.registry_mirrors/);
  // Trusted by the file, or by --trusted on the command line: only the daemon keys remain.
  assert.equal(problemsOf(`runner: { trusted: true }\n${file}`).length, 2);
  assert.equal(problemsOf(file, {}, { trusted: true }).length, 2);
});

test('a YAML syntax error and a key written twice are problems of the same error', () => {
  assert.match(problemsOf('runner: [\n')[0]!, /^\d+:\d+: YAML syntax/);
  assert.deepEqual(problemsOf('runner:\n  name: a\n  name: b\n'), ['3:3: "name" is written twice in one map (also at line 2)']);
});

test('flags and variables given win over the file, which wins over the defaults', () => {
  const file = parseRunnerConfig('runner.yaml', 'server: { url: "https://ci", token: t }\nrunner: { name: from-file, max_concurrent_jobs: 5 }\nengine: { memory: 1g }\n', {});
  const s = effectiveRunnerSettings(file, { name: 'from-flag', warm: 0 }, { name: 'flag', warm: 'env' }, DEFAULTS);
  assert.equal(s.name, 'from-flag');
  assert.equal(s.maxJobs, 5);
  assert.equal(s.warm, 0);
  assert.equal(s.stepImage, 'busybox:latest');
  assert.deepEqual(s.engine, { memoryMb: 1024 });
  assert.deepEqual([s.from.name, s.from.maxJobs, s.from.warm, s.from.stepImage], ['flag', 'file', 'env', 'default']);
  assert.equal(effectiveRunnerSettings(file, {}, {}, DEFAULTS).warm, 5, 'warm engines default to the jobs at once');
  assert.throws(() => effectiveRunnerSettings(undefined, { server: 'https://ci' }, {}, DEFAULTS), /--token/);
});

test('the engine settings reach the nested daemon and every job container', () => {
  assert.ok(daemonArgs({ config: { 'default-runtime': 'runcvm' } }).includes('--config-file=/nestor/daemon.json'));
  assert.ok(!daemonArgs({}).some((a) => a.startsWith('--config-file')));
  const step = { name: 's', mounts: [{ kind: 'workspace', target: '/w', readOnly: false }] };
  const spec = { steps: [step], services: [{ ...step, mounts: [{ kind: 'host', path: '/mine', target: '/cache', readOnly: false }] }] } as unknown as JobSpec;
  const got = withRunnerVolumes(spec, [{ source: '/srv/cache', target: '/cache', readOnly: true }]);
  assert.deepEqual(got.steps[0]!.mounts.at(-1), { kind: 'host', path: '/srv/cache', target: '/cache', readOnly: true });
  assert.equal(got.services[0]!.mounts.length, 1, 'a container that mounts the target itself keeps its own');
});
