import { test } from 'node:test';
import assert from 'node:assert/strict';
import { hostPathUse } from './host-paths.ts';

test('host paths that real files mount as caches are caches; data and name files are not', () => {
  for (const [host, target] of [
    ['/drone/gotosocial/go-build', '/root/.cache/go-build'],
    ['/srv/ci/go', '/go'],
    ['/srv/ci/mod', '/go/pkg/mod'],
    ['/tmp/drone-cache', '/tmp/cache'],
    ['/var/ci/m2', '/root/.m2'],
    ['/var/ci/npm', '/root/.npm/_cacache'],
    ['/var/ci/docker', '/var/lib/docker'],
    ['/var/cache/ci/yarn', '/usr/local/share/.cache/yarn'],
    ['/opt/builds', '/builds/.gradle'],
    ['/woodpecker/app/nm', '/woodpecker/src/app/web/node_modules'],
  ]) assert.equal(hostPathUse(host!, target!), 'cache', `${host} at ${target}`);
  for (const [host, target] of [
    ['/srv/www', '/public'],
    ['/home/deploy/.ssh', '/root/.ssh'],
    ['/etc/ssl/certs', '/etc/ssl/certs'],
    ['/var/run/secrets', '/secrets'],
    ['/data/releases', '/dist'],
    ['/etc/hosts', '/hosts'],
  ]) assert.equal(hostPathUse(host!, target!), 'data', `${host} at ${target}`);
  assert.equal(hostPathUse('/woodpecker/app/test-tmp', '/tmp'), 'scratch');
  assert.equal(hostPathUse('/etc/hosts', '/etc/hosts'), 'container-file');
  assert.equal(hostPathUse('/etc/resolv.conf', '/etc/resolv.conf'), 'container-file');
  assert.equal(hostPathUse('/sys/fs/cgroup', '/sys/fs/cgroup/'), 'container-file');
});
