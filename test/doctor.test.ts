import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from '../src/engine/engine-client.ts';
import { endpointFromEnv } from '../src/engine/docker-host.ts';
import { runDoctor } from '../src/doctor/doctor.ts';
import { checkNestedEngine, privilegedOrCaps } from '../src/doctor/engine-checks.ts';
import { bridgeMtu, tlsMaterial } from '../src/doctor/host-checks.ts';
import { runCheck } from '../src/doctor/check.ts';
import { makeEngineCertificates } from '../src/engine/tls-material.ts';
import { uplinkMtu } from '../src/engine/host-network.ts';
import { hostEngine, nestor } from './helpers.ts';

const host = await hostEngine();
const ctx = { host, probeImage: 'busybox:latest', env: process.env };

test('doctor --json runs every check against the real engine and reports each with its status', async () => {
  const r = await nestor(['doctor', '--json']);
  const report = JSON.parse(r.stdout) as { ok: boolean; checks: { id: string; status: string; fix?: string }[] };
  const ids = report.checks.map((c) => c.id);
  for (const id of ['daemon', 'api-version', 'run', 'build', 'compose', 'network', 'volume', 'socket-permissions', 'privileged', 'cgroup', 'storage', 'iptables', 'mtu', 'tls', 'nested-engine']) {
    assert.ok(ids.includes(id), `check ${id} ran`);
  }
  for (const c of report.checks) {
    assert.ok(['pass', 'warn', 'fail'].includes(c.status), `${c.id} ran (${c.status})`);
    if (c.status === 'fail') assert.ok(c.fix, `${c.id} failed and names a fix`);
  }
  assert.equal(r.code, report.ok ? 0 : 1, 'the exit code follows the result');
  for (const id of ['daemon', 'run', 'build', 'network', 'volume', 'nested-engine']) {
    assert.equal(report.checks.find((c) => c.id === id)?.status, 'pass', `${id} passes on the suite's engine`);
  }
});

test('an unreachable daemon fails with cause and fix, and the checks that need it do not run', async () => {
  const report = await runDoctor(connect(endpointFromEnv({ DOCKER_HOST: 'unix:///tmp/nestor-doctor-absent.sock' })), { env: process.env });
  const daemon = report.checks.find((c) => c.id === 'daemon')!;
  assert.equal(daemon.status, 'fail');
  assert.match(daemon.detail, /Cannot connect to the Docker daemon/);
  assert.match(daemon.fix ?? '', /dockerd/);
  assert.equal(report.checks.find((c) => c.id === 'run')?.status, 'not-run');
  assert.equal(report.ok, false);
});

test('a nested engine without the cgroup bind fails the nested check, which names the fix', async () => {
  const finding = await checkNestedEngine(ctx, { isolation: 'dind-caps', cgroupBind: false });
  assert.equal(finding.status, 'fail');
  assert.match(finding.detail, /read-only file system/);
  assert.match(finding.fix ?? '', /\/sys\/fs\/cgroup:rw/);
});

test('privileged versus capabilities is decided by trying both on the engine', async () => {
  const r = await runCheck(privilegedOrCaps, ctx);
  assert.notEqual(r.status, 'fail', r.detail);
  if (r.status === 'warn') {
    assert.match(r.detail, /unable to apply caps/);
    assert.match(r.fix ?? '', /dind-caps/);
  } else {
    assert.match(r.detail, /--privileged works/);
  }
});

test('expired TLS material is reported as such with the fix', async () => {
  const certs = await makeEngineCertificates({ dnsNames: ['old'], validDays: -1 });
  const client = connect({ kind: 'tls', host: '127.0.0.1', port: 1, tls: certs.client });
  const r = await runCheck(tlsMaterial, { ...ctx, host: client });
  assert.equal(r.status, 'fail');
  assert.match(r.detail, /expired/);
  assert.match(r.fix ?? '', /DOCKER_CERT_PATH/);
});

test('plain TCP without TLS is a failure: nothing protects the engine', async () => {
  const r = await runCheck(tlsMaterial, { ...ctx, host: connect({ kind: 'tcp', host: '127.0.0.1', port: 2375 }) });
  assert.equal(r.status, 'fail');
  assert.match(r.fix ?? '', /tlsverify/);
});

test('the MTU check compares the bridge with the uplink', async () => {
  const r = await runCheck(bridgeMtu, ctx);
  const bridge = Number((await host.docker.getNetwork('bridge').inspect()).Options?.['com.docker.network.driver.mtu'] ?? 1500);
  const uplink = uplinkMtu();
  assert.ok(uplink, 'this host has a default route');
  assert.equal(r.status, bridge > uplink.mtu ? 'fail' : 'pass', r.detail);
  if (r.status === 'fail') assert.match(r.fix ?? '', /--mtu/);
});
