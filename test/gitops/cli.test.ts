import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { test } from 'node:test';
import { hostEngine, nestor } from '../helpers.ts';
import { ADMIN, tempDir } from '../server/harness.ts';
import { freePort, startServerProcess } from '../server/processes.ts';
import { SHELL_FUNCTION, TestRepo, invoke, manifest } from './fixture.ts';

await hostEngine();

test('nestor apps add, list, sync, history, rollback and remove, against a running server', async () => {
  const port = await freePort();
  const server = await startServerProcess(port, tempDir(), { NESTOR_BUILD_ENGINES: '0', NESTOR_LOCAL_REPO_ROOTS: tmpdir() });
  const env = { ...process.env, NESTOR_SERVER: `http://127.0.0.1:${port}`, NESTOR_TOKEN: ADMIN };
  try {
    const repo = new TestRepo();
    const text = manifest('cli', repo.origin, `    - path: cli\n`);
    repo.commit('one', { 'nestor.yaml': text, 'cli/Dockerfile': SHELL_FUNCTION('one') });
    const file = join(tempDir(), 'nestor.yaml');
    writeFileSync(file, text);

    const added = await nestor(['apps', 'add', file, '--no-auto-sync'], env);
    assert.equal(added.code, 0, added.stderr);
    assert.match(added.stdout, /team\/cli added: watching/);

    const first = await nestor(['apps', 'sync', 'team/cli'], env);
    assert.equal(first.code, 0, first.stdout + first.stderr);
    assert.match(first.stdout, /deployment #1 serves cli/);
    repo.commit('two', { 'cli/Dockerfile': SHELL_FUNCTION('two') });
    assert.match((await nestor(['apps', 'sync', 'team/cli'], env)).stdout, /deployment #2/);
    assert.match((await nestor(['apps', 'sync', 'team/cli'], env)).stdout, /unchanged, nothing to build/);
    assert.equal((await invoke(`http://127.0.0.1:${port}`, 'cli', 'echo "$GREETING"')).text.trim(), 'two');

    const listed = await nestor(['apps', 'list', '--json'], env);
    assert.equal((JSON.parse(listed.stdout) as { current_deployment: number }[])[0]!.current_deployment, 2);

    const back = await nestor(['apps', 'rollback', 'team/cli', '1'], env);
    assert.equal(back.code, 0, back.stderr);
    assert.match(back.stdout, /deployment #3 serves the images of #1/);
    assert.equal((await invoke(`http://127.0.0.1:${port}`, 'cli', 'echo "$GREETING"')).text.trim(), 'one');

    const history = await nestor(['apps', 'history', 'team/cli'], env);
    assert.match(history.stdout, /#3 .*rollback to #1.*serving/);
    assert.match(history.stdout, /#1 .*manual/);
    assert.match((await nestor(['apps', 'logs', 'team/cli', '2'], env)).stdout, /built in \d+ ms/);

    const missing = await nestor(['apps', 'rollback', 'team/cli', '9'], env);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /has no deployment 9/);
    assert.match(missing.stderr, /nestor apps history/);

    assert.equal((await nestor(['apps', 'remove', 'team/cli'], env)).code, 0);
    assert.match((await nestor(['apps', 'list'], env)).stdout, /no applications/);
  } finally {
    await server.stop();
  }
});
