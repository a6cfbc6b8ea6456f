import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { isLoopbackUrl, openServerGateway, throughGateway } from './server-gateway.ts';

test('a loopback server is forwarded through the gateway, and its variables name the gateway instead', async () => {
  assert.deepEqual(['http://127.0.0.1:8080', 'http://localhost:8080', 'http://[::1]:8080', 'https://ci.example.com', 'http://10.0.0.5:8080'].map(isLoopbackUrl), [true, true, true, false, false]);
  const server = createServer((req, res) => res.end(`hello ${req.url}`));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  // The gateway listens where it is told (the supply network's gateway address; here another loopback one).
  const gateway = await openServerGateway(url, '127.0.0.2');
  try {
    assert.match(gateway.origin, /^http:\/\/127\.0\.0\.2:\d+$/);
    assert.equal(await (await fetch(`${gateway.origin}/git/team/app.git`)).text(), 'hello /git/team/app.git');
    const vars = throughGateway({ NESTOR_SERVER_URL: url, NESTOR_GIT_URL: `${url}/git/team/app.git`, CI_NETRC_MACHINE: '127.0.0.1', CI_NETRC_USERNAME: 'nestor' }, url, gateway);
    assert.deepEqual(vars, { NESTOR_SERVER_URL: gateway.origin, NESTOR_GIT_URL: `${gateway.origin}/git/team/app.git`, CI_NETRC_MACHINE: '127.0.0.2', CI_NETRC_USERNAME: 'nestor' });
  } finally {
    await gateway.close();
    server.close();
  }
});
