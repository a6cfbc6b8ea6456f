import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRunnerConfig } from '../src/runner/runner-config.ts';
import { effectiveRunnerSettings } from '../src/runner/runner-settings.ts';
import { baseOptions } from '../src/backend/docker/engine-source.ts';
import { provision } from '../src/engine/nested/provision.ts';
import { ImageSupply } from '../src/engine/images/supply.ts';
import { hostEngine, objectsOf } from './helpers.ts';

// No Docker fails here (helpers.hostEngine throws), in CI and out of it: never a skip.
const host = await hostEngine();
const supply = await ImageSupply.start(host);
after(() => supply.close());

const RUNNER_YAML = `
server: { url: "https://ci.example.com", token: "\${TOKEN:-t}" }
runner: { trusted: true }
engine:
  isolation: dind-caps
  memory: 768m
  cpus: "\${CPUS:-1}"
  registry_mirrors: ["https://mirror.example.invalid"]
  log: { max_size: 5m, max_file: 2 }
  daemon:
    labels: ["nestor-runner-config-test=1"]
    default-runtime: runc
    runtimes: { extra: { path: runc } }
`;

test('runner.yaml engine settings reach a real nested engine: limits on its container, daemon.json in its daemon', async () => {
  const file = parseRunnerConfig('runner.yaml', RUNNER_YAML, {});
  const settings = effectiveRunnerSettings(file, {}, {}, { name: 'it', maxJobs: 1, stepImage: 'busybox:latest' });
  // The options every engine of a runner with these settings is made with (warm or for one job).
  const engine = await provision(baseOptions({ host, supply, isolation: settings.isolation, ...settings.engine }));
  try {
    const sidecar = await host.docker.getContainer(engine.containerId!).inspect();
    assert.equal(sidecar.HostConfig.Memory, 768 * 1024 * 1024);
    assert.equal(sidecar.HostConfig.NanoCpus, 1e9);
    const info = (await engine.docker.info()) as { Labels: string[]; DefaultRuntime: string; Runtimes: Record<string, unknown>; RegistryConfig: { Mirrors: string[] } };
    assert.ok(info.Labels.includes('nestor-runner-config-test=1'), `daemon labels: ${info.Labels.join(', ')}`);
    assert.equal(info.DefaultRuntime, 'runc');
    assert.ok('extra' in info.Runtimes, `runtimes: ${Object.keys(info.Runtimes).join(', ')}`);
    assert.ok(info.RegistryConfig.Mirrors.includes('https://mirror.example.invalid/'), `mirrors: ${info.RegistryConfig.Mirrors.join(', ')}`);
    // The image supply's mirror stays first: images the host has never leave it.
    assert.ok(info.RegistryConfig.Mirrors.length >= 2);
  } finally {
    await engine.destroy();
    assert.equal(await objectsOf(host, engine.name), 0, 'destroy leaves no container, network or volume');
  }
});
