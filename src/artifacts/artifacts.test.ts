import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createReadStream, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { after, test } from 'node:test';
import { ArtifactTooLargeError, LocalArtifactStore, parseExpireIn } from './artifact-store.ts';
import { joinArchives } from '../engine/archive.ts';
import { artifactRoots, selectArtifacts, selected } from './select.ts';

const work = mkdtempSync(join(tmpdir(), 'nestor-artifacts-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** A workspace as a job leaves it, archived by the real `tar`, as a backend hands it over. */
function workspaceArchive(): string {
  const ws = join(work, 'ws');
  rmSync(ws, { recursive: true, force: true });
  for (const dir of ['dist/js', 'dist/maps', 'build', 'src', 'coverage']) mkdirSync(join(ws, dir), { recursive: true });
  const files: Record<string, string> = { 'dist/js/app.js': 'app', 'dist/maps/app.js.map': 'map', 'build/out.bin': 'bin', 'src/main.ts': 'src', 'coverage/lcov.info': 'lcov', 'report.xml': '<xml/>' };
  for (const [f, text] of Object.entries(files)) writeFileSync(join(ws, f), text);
  symlinkSync('../../../etc/passwd', join(ws, 'dist/js/leak'));
  symlinkSync('/etc/shadow', join(ws, 'dist/js/leak-absolute'));
  symlinkSync('app.js', join(ws, 'dist/js/alias.js'));
  const tar = join(work, 'ws.tar');
  execFileSync('tar', ['-cf', tar, '-C', ws, '.']);
  return tar;
}

function listing(tar: string): string[] {
  return execFileSync('tar', ['-tf', tar], { encoding: 'utf8' }).split('\n').filter(Boolean).sort();
}

test('a selection keeps the paths named (directories whole, globs as GitLab reads them) minus the excludes', () => {
  const sel = { paths: ['dist/', 'coverage/*.info', '*.xml'], exclude: ['dist/**/*.map'] };
  assert.equal(selected('./dist/js/app.js', sel), true);
  assert.equal(selected('dist/maps/app.js.map', sel), false);
  assert.equal(selected('coverage/lcov.info', sel), true);
  assert.equal(selected('report.xml', sel), true);
  assert.equal(selected('src/main.ts', sel), false);
  assert.equal(selected('dist/../src/main.ts', sel), false, 'no path climbs out');
});

test('untracked (GitLab): every file the source did not bring, .git never, excludes still apply, directories only as places of kept files', () => {
  const sel = { paths: ['report.xml'], exclude: ['build/*.tmp'], untracked: new Set(['src/main.c', 'Makefile', '.gitignore']) };
  assert.equal(selected('build/main.o', sel), true);
  assert.equal(selected('build/x.tmp', sel), false);
  assert.equal(selected('src/main.c', sel), false, 'a file of the source');
  assert.equal(selected('.git/HEAD', sel), false);
  assert.equal(selected('report.xml', sel), true);
  assert.equal(selected('build', sel, true), false, 'a directory goes only as the place of what is kept');
  assert.equal(selected('build/main.o', { paths: [], exclude: [] }), false, 'without untracked, only the paths');
});

test("a job's artifacts are selected from its workspace, stored, and unpack in the next job's workspace", async () => {
  const tar = workspaceArchive();
  const store = new LocalArtifactStore(join(work, 'store'));
  const count = { files: 0, bytes: 0 };
  const stored = await store.put('run-1', 'build:linux', selectArtifacts(createReadStream(tar), { paths: ['dist', 'report.xml'], exclude: ['**/*.map'] }, count), Date.now() + 60_000);
  assert.ok(stored.bytes > 0);
  assert.equal(count.files, 2);

  const kept = join(work, 'kept.tar');
  await pipeline((await store.open('run-1', 'build:linux'))!, (await import('node:fs')).createWriteStream(kept));
  const names = listing(kept);
  assert.ok(names.includes('dist/js/app.js') && names.includes('report.xml'), names.join(' '));
  assert.ok(names.includes('dist/js/alias.js'), 'a link within the workspace is kept');
  assert.ok(!names.some((n) => n.includes('leak')), 'a link out of the workspace is not');
  assert.ok(!names.some((n) => n.endsWith('.map') || n.startsWith('src')), names.join(' '));
  const next = join(work, 'next');
  mkdirSync(next);
  execFileSync('tar', ['-xf', kept, '-C', next]);
  assert.equal(readFileSync(join(next, 'dist/js/app.js'), 'utf8'), 'app');
});

test('an archive past the cap is refused and leaves nothing; expired archives are not handed out and are swept', async () => {
  const tar = workspaceArchive();
  const small = new LocalArtifactStore(join(work, 'small'), { maxBytes: 1024 });
  await assert.rejects(small.put('run', 'big', createReadStream(tar), null), ArtifactTooLargeError);
  assert.equal(await small.open('run', 'big'), undefined);
  assert.equal(existsSync(join(work, 'small', 'run', 'big.tar.partial')), false);

  const store = new LocalArtifactStore(join(work, 'expiry'));
  await store.put('run', 'old', createReadStream(tar), Date.now() - 1);
  await store.put('run', 'kept', createReadStream(tar), null);
  assert.equal(await store.open('run', 'old'), undefined);
  assert.equal(store.sweep(Date.now()), 1);
  const kept = await store.open('run', 'kept');
  assert.ok(kept);
  let bytes = 0;
  for await (const chunk of kept) bytes += (chunk as Buffer).length;
  assert.ok(bytes > 0);
});

test("expire_in reads as GitLab's", () => {
  assert.equal(parseExpireIn('never'), null);
  assert.equal(parseExpireIn('42'), 42_000);
  assert.equal(parseExpireIn(30), 30_000);
  assert.equal(parseExpireIn('3 days'), 3 * 86_400_000);
  assert.equal(parseExpireIn('1 week 2 days'), 9 * 86_400_000);
  assert.equal(parseExpireIn('2h 30min'), 9_000_000);
  assert.equal(parseExpireIn('1 hour and 30 minutes'), 5_400_000);
  assert.equal(parseExpireIn('soon'), undefined);
});

test('the directories read to find what the patterns match: each up to its first glob, none under another', () => {
  assert.deepEqual(artifactRoots(['dist/', 'dist/js/*.js', 'coverage/**/lcov.info', 'build/out.bin']), ['build/out.bin', 'coverage', 'dist']);
  assert.deepEqual(artifactRoots(['*.xml', 'dist']), ['.']);
  assert.deepEqual(artifactRoots(['./a/b', 'a/b/c', 'a/[bc]/d']), ['a']);
});

test('archives joined in order make one archive, a later entry of a path over an earlier one', async () => {
  const dir = (name: string, files: Record<string, string>) => {
    const d = join(work, name);
    rmSync(d, { recursive: true, force: true });
    for (const [f, text] of Object.entries(files)) {
      mkdirSync(join(d, f, '..'), { recursive: true });
      writeFileSync(join(d, f), text);
    }
    const tar = join(work, `${name}.tar`);
    execFileSync('tar', ['-cf', tar, '-C', d, '.']);
    return tar;
  };
  const source = dir('source', { 'README': 'source', 'dist/app.js': 'stale' });
  const artifacts = dir('from-build', { 'dist/app.js': 'built', 'dist/app.css': 'css' });
  const joined = join(work, 'joined.tar');
  await pipeline(joinArchives([() => createReadStream(source), () => undefined, async () => createReadStream(artifacts)]), (await import('node:fs')).createWriteStream(joined));
  const out = join(work, 'joined');
  mkdirSync(out, { recursive: true });
  execFileSync('tar', ['-xf', joined, '-C', out]);
  assert.equal(readFileSync(join(out, 'README'), 'utf8'), 'source');
  assert.equal(readFileSync(join(out, 'dist/app.js'), 'utf8'), 'built');
  assert.equal(readFileSync(join(out, 'dist/app.css'), 'utf8'), 'css');
});
