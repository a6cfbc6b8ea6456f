import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { extract, type Pack } from 'tar-stream';
import { buildContext } from './build-context.ts';
import { parseManifest } from './manifest.ts';
import { readManifestFile } from './manifest-file.ts';

const EXAMPLE = new URL('../../examples/zerverless/', import.meta.url).pathname;
const NOTES = readFileSync(join(EXAMPLE, 'zerverless.yaml'), 'utf8');

const fn = (body: string) => `apiVersion: zerverless.io/v1
kind: Application
metadata: {name: my-app, namespace: alice}
spec:
  source: {repoURL: https://git.example.com/you/my-repo.git}
  functions:
${body}`;

test('the notes\' zerverless.yaml reads as a Nestor manifest: /api is alice/api, its paths kept as written', () => {
  const m = parseManifest('zerverless.yaml', NOTES);
  assert.deepEqual([m.name, m.namespace, m.source.branch], ['my-app', 'alice', 'main']);
  const api = m.functions[0]!;
  assert.deepEqual([api.path, api.runtime, api.context, api.dockerfile], ['api', 'docker', './services/api', './services/api/Dockerfile']);
});

test('a leading slash is the same path: "/api" and "api" are one function, "//api" is refused', () => {
  assert.throws(() => parseManifest('zerverless.yaml', fn('    - path: /api\n    - path: api\n')), /function path "api" is used twice/);
  assert.throws(() => parseManifest('zerverless.yaml', fn('    - path: //api\n')), /zerverless\.yaml:7:\d+: expected lower-case URL segments/);
  assert.equal(parseManifest('zerverless.yaml', fn('    - path: /api/v1\n')).functions[0]!.path, 'api/v1');
});

test('what Nestor does not run is refused by name, in the file it is in, never dropped', () => {
  assert.throws(() => parseManifest('zerverless.yaml', fn('    - path: /api\n      runtime: python\n')), (err: Error & { code: string; hint: string }) => {
    assert.equal(err.code, 'NESTOR_MANIFEST_INVALID');
    assert.match(err.message, /^zerverless\.yaml:8:\d+: runtime "python" is not supported: every function is built from a Dockerfile/);
    assert.match(err.hint, /^Fix zerverless\.yaml/);
    return true;
  });
  assert.throws(() => parseManifest('zerverless.yaml', fn('    - path: /api\n      handler: app.py\n')), /zerverless\.yaml:8:7: unknown key "handler"/);
  assert.throws(() => parseManifest('zerverless.yaml', NOTES.replace('apiVersion: zerverless.io/v1', 'apiVersion: zerverless.io/v2')), /apiVersion "zerverless\.io\/v2" is not known: expected "nestor\.dev\/v1" \(or the compatible "zerverless\.io\/v1"\)/);
});

function checkout(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), 'nestor-zv-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }
  return root;
}

test('the manifest is nestor.yaml, else zerverless.yaml; one that is not read is named', () => {
  assert.deepEqual(readManifestFile(checkout({ 'zerverless.yaml': 'a' }), '.'), { file: 'zerverless.yaml', text: 'a' });
  assert.deepEqual(readManifestFile(checkout({ 'nestor.yaml': 'n', 'zerverless.yaml': 'z' }), '.'), { file: 'nestor.yaml', text: 'n', ignored: 'zerverless.yaml' });
  assert.equal(readManifestFile(checkout({ 'deploy/zerverless.yaml': 'd' }), 'deploy').file, 'deploy/zerverless.yaml');
  assert.throws(() => readManifestFile(checkout({ 'other.yaml': '' }), '.'), { code: 'NESTOR_MANIFEST_MISSING', message: 'No nestor.yaml or zerverless.yaml in the repository' });
  const linked = checkout({});
  symlinkSync('/etc/hostname', join(linked, 'zerverless.yaml'));
  assert.throws(() => readManifestFile(linked, '.'), { code: 'NESTOR_PATH_OUTSIDE_REPOSITORY' });
});

async function names(pack: Pack): Promise<string[]> {
  const found: string[] = [];
  const ex = extract();
  ex.on('entry', (h, s, next) => {
    found.push(h.name);
    s.resume();
    s.on('end', next);
  });
  const done = new Promise<void>((r) => ex.on('finish', () => r()));
  pack.pipe(ex);
  await done;
  return found.sort();
}

const NOTES_LAYOUT = { 'services/api/Dockerfile': 'FROM busybox:latest\n', 'services/api/app.sh': 'echo hi\n' };

test('dockerfile is read relative to the context first, else relative to the source path; the choice is recorded', async () => {
  const root = checkout(NOTES_LAYOUT);
  const notes = await buildContext(root, '.', { context: './services/api', dockerfile: './services/api/Dockerfile' });
  assert.deepEqual(notes.used, { path: 'services/api/Dockerfile', base: 'source' });
  // Inside the context either way: sent as the context's own Dockerfile, not a copy.
  assert.equal(notes.dockerfile, 'Dockerfile');
  assert.deepEqual(await names(notes.archive), ['Dockerfile', 'app.sh']);

  const compose = await buildContext(root, '.', { context: 'services/api', dockerfile: 'Dockerfile' });
  assert.deepEqual(compose.used, { path: 'services/api/Dockerfile', base: 'context' });

  const both = checkout({ ...NOTES_LAYOUT, 'services/api/services/api/Dockerfile': 'FROM busybox:latest\n' });
  assert.equal((await buildContext(both, '.', { context: 'services/api', dockerfile: 'services/api/Dockerfile' })).used.base, 'context');

  const nested = checkout({ 'deploy/fn/Dockerfile': 'FROM busybox\n', 'deploy/docker/fn.Dockerfile': 'FROM busybox\n' });
  const outside = await buildContext(nested, 'deploy', { context: 'fn', dockerfile: 'docker/fn.Dockerfile' });
  assert.deepEqual(outside.used, { path: 'deploy/docker/fn.Dockerfile', base: 'source' });
  assert.equal(outside.dockerfile, '.nestor.Dockerfile');
});

test('no reading of dockerfile may leave the repository, and a missing one names both places looked at', async () => {
  const root = checkout(NOTES_LAYOUT);
  await assert.rejects(buildContext(root, '.', { context: 'services/api', dockerfile: '../../../../etc/passwd' }), { code: 'NESTOR_PATH_OUTSIDE_REPOSITORY' });
  // Missing beside the context, and out of the repository from the source path: refused, not read.
  await assert.rejects(buildContext(root, '.', { context: 'services/api', dockerfile: '../../etc/passwd' }), { code: 'NESTOR_PATH_OUTSIDE_REPOSITORY', message: /leaves the repository/ });
  symlinkSync('/etc/passwd', join(root, 'Dockerfile.out'));
  await assert.rejects(buildContext(root, '.', { context: 'services/api', dockerfile: 'Dockerfile.out' }), /symbolic link/);
  await assert.rejects(buildContext(root, '.', { context: 'services/api', dockerfile: 'Missing.Dockerfile' }), {
    code: 'NESTOR_PATH_MISSING',
    message: 'dockerfile "Missing.Dockerfile" is not a file in the repository (looked for services/api/Missing.Dockerfile and Missing.Dockerfile)',
  });
});
