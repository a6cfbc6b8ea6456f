import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, relative } from 'node:path';
import { tmpdir } from 'node:os';
import { test } from 'node:test';
import pino from 'pino';
import { ImageSupply } from '../../src/engine/images/supply.ts';
import { LABEL_FUNCTION } from '../../src/engine/labels.ts';
import { startServer } from '../../src/server/server.ts';
import { ROOT, hostEngine, nestor } from '../helpers.ts';
import { ADMIN, api, tempDir } from '../server/harness.ts';
import { freePort, startServerProcess } from '../server/processes.ts';
import { TestRepo } from './fixture.ts';

const host = await hostEngine();
const EXAMPLE = join(ROOT, 'examples/zerverless');

/** Every file of the example, path → content, as it would be committed. */
function exampleFiles(dir = EXAMPLE): Record<string, string> {
  const files: Record<string, string> = {};
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) files[relative(EXAMPLE, join(entry.parentPath, entry.name))] = readFileSync(join(entry.parentPath, entry.name), 'utf8');
  }
  return files;
}

type Deployment = { seq: number; status: string; error: string | null; functions: { path: string; image: string; dockerfile?: string; dockerfile_base?: string }[] };

async function call(url: string, body = ''): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { method: 'POST', body });
  return { status: res.status, text: await res.text() };
}

test('the notes\' zerverless.yaml deploys as written: /alice/api on the functions port, /fn/alice/api on the main one; apps commands by name alone', async () => {
  const [port, functionsPort] = [await freePort(), await freePort()];
  const server = await startServerProcess(port, tempDir(), { NESTOR_BUILD_ENGINES: '0', NESTOR_FUNCTIONS_PORT: String(functionsPort), NESTOR_LOCAL_REPO_ROOTS: tmpdir() });
  const base = `http://127.0.0.1:${port}`;
  const env = { ...process.env, NESTOR_SERVER: base, NESTOR_TOKEN: ADMIN };
  try {
    const repo = new TestRepo();
    const files = exampleFiles();
    repo.commit('the notes\' layout', files);
    // The manifest as the user adds it, pointing at this repository instead of a forge.
    const manifestFile = join(tempDir(), 'zerverless.yaml');
    writeFileSync(manifestFile, files['zerverless.yaml']!.replace(/repoURL: .*/, `repoURL: ${repo.origin}`));
    const added = await nestor(['apps', 'add', manifestFile, '--no-auto-sync'], env);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /alice\/my-app added/);

    const first = await nestor(['apps', 'sync', 'my-app'], env);
    assert.equal(first.code, 0, first.stdout + first.stderr);
    assert.match(first.stdout, /alice\/my-app: deployment #1 serves api/);
    const d1 = (await api<{ deployments: Deployment[] }>(base, 'GET', '/api/apps/alice/my-app/deployments')).body.deployments[0]!;
    assert.match(d1.functions[0]!.image, /^nestor\/alice\/api:/);
    assert.deepEqual([d1.functions[0]!.dockerfile, d1.functions[0]!.dockerfile_base], ['services/api/Dockerfile', 'source']);
    assert.match((await nestor(['apps', 'logs', 'my-app', '1'], env)).stdout, /reading zerverless\.yaml[\s\S]*no \.\/services\/api\/Dockerfile in the context; using services\/api\/Dockerfile/);

    const onMain = await call(`${base}/fn/alice/api/items?x=1`, 'four');
    const onFunctions = await call(`http://127.0.0.1:${functionsPort}/alice/api`, 'hello');
    assert.equal(onMain.status, 200, onMain.text);
    assert.deepEqual(JSON.parse(onMain.text), { message: 'hello from my-app', method: 'POST', path: '/items', bytes: 4 });
    assert.equal(onFunctions.status, 200, onFunctions.text);
    assert.deepEqual(JSON.parse(onFunctions.text), { message: 'hello from my-app', method: 'POST', path: '/', bytes: 5 });
    // The functions port serves functions only: the API is not behind it.
    assert.equal((await fetch(`http://127.0.0.1:${functionsPort}/api/apps`, { headers: { authorization: `Bearer ${ADMIN}` } })).status, 404);

    // The Compose reading (relative to the context) is the one tried first.
    repo.commit('dockerfile beside the app', {
      'zerverless.yaml': files['zerverless.yaml']!.replace(/dockerfile: .*/, 'dockerfile: Dockerfile'),
      'services/api/app.sh': files['services/api/app.sh']!.replace('hello from my-app', 'hello again'),
    });
    assert.match((await nestor(['apps', 'sync', 'my-app'], env)).stdout, /deployment #2 serves api/);
    assert.equal(JSON.parse((await call(`http://127.0.0.1:${functionsPort}/alice/api`)).text).message, 'hello again');
    const history = await nestor(['apps', 'history', 'my-app', '--json'], env);
    assert.deepEqual((JSON.parse(history.stdout) as Deployment[]).map((d) => d.functions[0]!.dockerfile_base), ['context', 'source']);
    const shown = (await nestor(['apps', 'history', 'my-app'], env)).stdout;
    assert.match(shown, /#2 [\s\S]*api: services\/api\/Dockerfile, relative to the context\n#1 [\s\S]*api: services\/api\/Dockerfile, relative to the application's directory/);

    const back = await nestor(['apps', 'rollback', 'my-app', '1'], env);
    assert.equal(back.code, 0, back.stderr);
    assert.match(back.stdout, /alice\/my-app: deployment #3 serves the images of #1/);
    assert.equal(JSON.parse((await call(`${base}/fn/alice/api`)).text).message, 'hello from my-app');

    // The same name in a second namespace: now the commands need --namespace, and say so.
    const other = await nestor(['apps', 'add', '--repo', repo.origin, '--name', 'my-app', '--namespace', 'bob', '--no-auto-sync'], env);
    assert.equal(other.code, 0, other.stderr);
    for (const args of [['sync', 'my-app'], ['history', 'my-app'], ['rollback', 'my-app', '2'], ['remove', 'my-app']]) {
      const ambiguous = await nestor(['apps', ...args], env);
      assert.equal(ambiguous.code, 2, `apps ${args.join(' ')}: ${ambiguous.stderr}`);
      assert.match(ambiguous.stderr, /Application my-app exists in 2 namespaces: alice, bob/);
      assert.match(ambiguous.stderr, /--namespace alice/);
    }
    assert.match((await nestor(['apps', 'history', 'my-app', '--namespace', 'alice'], env)).stdout, /#3 .*rollback to #1.*serving/);
    assert.equal((await nestor(['apps', 'remove', 'my-app', '--namespace', 'bob'], env)).code, 0);

    const missing = await nestor(['apps', 'sync', 'nosuch'], env);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /No application nosuch in any namespace/);

    const removed = await nestor(['apps', 'remove', 'my-app'], env);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /alice\/my-app removed/);
    assert.equal((await call(`http://127.0.0.1:${functionsPort}/alice/api`)).status, 404);
    assert.equal((await call(`${base}/fn/alice/api`)).status, 404);
    assert.deepEqual(await host.docker.listImages({ filters: JSON.stringify({ reference: ['nestor/alice/api'] }) }), [], 'the application\'s images went with it');
  } finally {
    await server.stop();
  }
  const left = await host.docker.listContainers({ all: true, filters: JSON.stringify({ label: [`${LABEL_FUNCTION}=alice/api`] }) });
  assert.deepEqual(left, [], 'no function container outlives the server');
  await assert.rejects(fetch(`http://127.0.0.1:${functionsPort}/alice/api`), 'the functions port closed with the server');
});

test('a functions port that is taken refuses the start, and nothing it began stays listening', async () => {
  const taken = createServer();
  await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
  const busy = (taken.address() as { port: number }).port;
  const port = await freePort();
  const supply = await ImageSupply.start(host);
  try {
    await assert.rejects(
      startServer({ port, host: '127.0.0.1', functionsPort: busy, dataDir: tempDir(), adminToken: ADMIN, logger: pino({ level: 'silent' }), gitops: { host, supply, buildWarm: 0, gitEnv: process.env } }),
      (err: Error & { code: string; hint: string }) => {
        assert.equal(err.code, 'NESTOR_FUNCTIONS_PORT_UNAVAILABLE', err.stack);
        assert.match(err.message, new RegExp(`port ${busy}: .*EADDRINUSE`));
        assert.match(err.hint, /--functions-port/);
        return true;
      },
    );
    await assert.rejects(fetch(`http://127.0.0.1:${port}/health`), 'the API\'s port was closed again');
  } finally {
    taken.close();
    await supply.close();
  }
});
