import { test } from 'node:test';
import assert from 'node:assert/strict';
import { diagnose } from './diagnose.ts';

const cases: [string, RegExp][] = [
  ['runc create failed: unable to start container process: unable to apply caps: operation not permitted', /dind-caps/],
  ['mkdir /sys/fs/cgroup/cpuset/docker: read-only file system', /\/sys\/fs\/cgroup:rw/],
  ['Cannot connect to the Docker daemon at unix:///var/run/docker.sock. Is the docker daemon running?', /dockerd/],
  ['failed to call BPF_PROG_QUERY: bpf_prog_query(BPF_CGROUP_DEVICE) failed: operation not permitted', /seccomp=unconfined/],
  ["iptables v1.8.9 (nf_tables): Couldn't load match `conntrack'", /iptables-legacy/],
  ['x509: certificate signed by unknown authority', /DOCKER_CERT_PATH/],
  ['bridge MTU 1500 is larger than the host uplink MTU 1400', /--mtu/],
];

for (const [message, fix] of cases) {
  test(`names the cause and fix for: ${message.slice(0, 60)}`, () => {
    const d = diagnose(message);
    assert.ok(d, 'recognised');
    assert.match(d.fix, fix);
    assert.ok(d.cause.length > 20);
  });
}

test('an unknown message gets no made-up diagnosis', () => {
  assert.equal(diagnose('something entirely different happened'), undefined);
});
