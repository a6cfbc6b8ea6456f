import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveApp, type AppRef } from './app-name.ts';
import { EXIT, Output } from './output.ts';

const APPS: AppRef[] = [
  { namespace: 'alice', name: 'my-app' },
  { namespace: 'bob', name: 'my-app' },
  { namespace: 'team', name: 'shop' },
];
let lookups = 0;
const named = async (name: string) => {
  lookups++;
  return APPS.filter((a) => a.name === name);
};

test('a name alone is found in whichever namespace has it; NS/NAME and --namespace ask nothing', async () => {
  lookups = 0;
  assert.deepEqual(await resolveApp('shop', undefined, named), { namespace: 'team', name: 'shop' });
  assert.equal(lookups, 1);
  assert.deepEqual(await resolveApp('team/shop', undefined, named), { namespace: 'team', name: 'shop' });
  assert.deepEqual(await resolveApp('my-app', 'bob', named), { namespace: 'bob', name: 'my-app' });
  assert.equal(lookups, 1);
});

test('a name in several namespaces asks for --namespace, listing them; it is a usage error (exit 2)', async () => {
  await assert.rejects(resolveApp('my-app', undefined, named), (err: Error & { code: string; hint: string }) => {
    assert.equal(err.code, 'NESTOR_APP_AMBIGUOUS');
    assert.equal(err.message, 'Application my-app exists in 2 namespaces: alice, bob');
    assert.match(err.hint, /--namespace alice \(or alice\/my-app\)/);
    const quiet = new Output({ json: true });
    const write = process.stdout.write;
    process.stdout.write = () => true;
    try {
      assert.equal(quiet.error(err), EXIT.usage);
    } finally {
      process.stdout.write = write;
    }
    return true;
  });
});

test('an unknown name, and a namespace given twice differently, are refused with what to do', async () => {
  await assert.rejects(resolveApp('nosuch', undefined, named), { code: 'NESTOR_APP_NOT_FOUND', message: 'No application nosuch in any namespace' });
  await assert.rejects(resolveApp('alice/my-app', 'bob', named), { code: 'NESTOR_USAGE' });
  // A server that ignores ?name= answers every application: only the ones of that name count.
  assert.deepEqual(await resolveApp('shop', undefined, async () => APPS), { namespace: 'team', name: 'shop' });
});
