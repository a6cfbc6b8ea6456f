import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { tarOf } from '../src/engine/archive.ts';
import { consumeProgress } from '../src/engine/json-stream.ts';
import { FunctionGateway } from '../src/functions/gateway.ts';
import { hostEngine } from './helpers.ts';

// The gateway on the host engine, without GitOps around it: how instances behave.
const host = await hostEngine();
const SHELL_IMAGE = 'nestor-test/fn-shell:1';
const BARE_IMAGE = 'nestor-test/fn-bare:1';
const settings = { env: { GREETING: 'hi' }, memoryMb: 64, cpus: 0.5, timeoutMs: 5000, concurrency: 4, warm: 1, network: 'none' as const };
const gateway = new FunctionGateway();

async function build(tag: string, dockerfile: string): Promise<void> {
  const context = await tarOf([{ name: 'Dockerfile', content: dockerfile }]);
  await consumeProgress(`build of ${tag}`, await host.docker.buildImage(context as unknown as NodeJS.ReadableStream, { t: tag, rm: true }));
}

before(async () => {
  await build(SHELL_IMAGE, 'FROM busybox:latest\nCMD ["sh"]\n');
  // No /bin/sh: only a static busybox, run as `cat`.
  await build(BARE_IMAGE, 'FROM busybox:latest AS tools\nFROM scratch\nCOPY --from=tools /bin/busybox /busybox\nENTRYPOINT ["/busybox", "cat"]\n');
});
after(async () => {
  await gateway.close();
  for (const image of [SHELL_IMAGE, BARE_IMAGE]) await host.docker.getImage(image).remove({ force: true }).catch(() => undefined);
});

const call = (path: string, body: string, headers: Record<string, string> = {}) => gateway.invoke('t', path, { method: 'POST', query: '', headers, body: Buffer.from(body) });

test('one waiting instance serves requests one after another; one request\'s variables do not reach the next', async () => {
  await gateway.deploy({ namespace: 't', path: 'sh', app: 'a', image: SHELL_IMAGE, docker: host.docker, settings });
  const first = await call('sh', 'echo "$HOSTNAME [$Http_X_Tenant] $GREETING"', { 'x-tenant': 'acme' });
  const second = await call('sh', 'echo "$HOSTNAME [$Http_X_Tenant] $GREETING"');
  assert.equal(first.start, 'warm');
  assert.equal(second.start, 'warm');
  const [host1, tenant1] = first.response.body.toString().split(' ');
  const [host2, tenant2] = second.response.body.toString().split(' ');
  assert.equal(host1, host2, 'the same container answered both');
  assert.equal(tenant1, '[acme]');
  assert.equal(tenant2, '[]');
});

test('a body the function does not read is drained: the next request is parsed from its own start', async () => {
  const big = `exit 0\n${'#'.repeat(300_000)}\n`;
  const ignored = await call('sh', big);
  assert.equal(ignored.response.status, 200);
  const next = await call('sh', 'echo still in step');
  assert.equal(next.response.body.toString(), 'still in step\n');
});

test('an image without a shell is served by a container per request, the request in its environment', async () => {
  await gateway.deploy({ namespace: 't', path: 'bare', app: 'a', image: BARE_IMAGE, docker: host.docker, settings });
  const r = await call('bare', 'echoed back');
  assert.equal(r.response.status, 200);
  assert.equal(r.response.body.toString(), 'echoed back');
  assert.equal(r.start, 'cold');
});

test('undeploy removes every instance of the function', async () => {
  await gateway.undeploy('t', 'sh');
  await gateway.undeploy('t', 'bare');
  const left = await host.docker.listContainers({ all: true, filters: JSON.stringify({ label: ['dev.nestor.function'] }) });
  assert.deepEqual(left.map((c) => c.Labels['dev.nestor.function']).filter((f) => f?.startsWith('t/')), []);
});

test('a function holds no host privilege: not root, no capability; an image\'s own user is kept', async () => {
  await gateway.deploy({ namespace: 't', path: 'priv', app: 'a', image: SHELL_IMAGE, docker: host.docker, settings });
  const r = await call('priv', 'id -u; grep -E "^Cap(Eff|Prm|Bnd):" /proc/self/status');
  const [uid, ...caps] = r.response.body.toString().trim().split('\n');
  assert.equal(uid, '65534', 'an image that runs as root runs as nobody');
  assert.equal(caps.length, 3);
  for (const line of caps) assert.match(line, /:\s+0{16}$/, `no capability: ${line}`);
  const USER_IMAGE = 'nestor-test/fn-user:1';
  await build(USER_IMAGE, 'FROM busybox:latest\nUSER 4321:4321\nCMD ["sh"]\n');
  try {
    await gateway.deploy({ namespace: 't', path: 'user', app: 'a', image: USER_IMAGE, docker: host.docker, settings });
    assert.equal((await call('user', 'id -u')).response.body.toString().trim(), '4321');
  } finally {
    await gateway.undeploy('t', 'user');
    await host.docker.getImage(USER_IMAGE).remove({ force: true }).catch(() => undefined);
  }
});
