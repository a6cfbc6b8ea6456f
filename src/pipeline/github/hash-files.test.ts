import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { hashFilesIn } from './hash-files.ts';

test('hashFiles hashes the matching files in path order, takes ! patterns back out, and is empty with no match', () => {
  const root = mkdtempSync(join(tmpdir(), 'nestor-hash-'));
  try {
    for (const [f, text] of [['package-lock.json', 'a'], ['web/package-lock.json', 'b'], ['web/node_modules/x/package-lock.json', 'c'], ['README.md', 'd']] as const) {
      mkdirSync(join(root, f, '..'), { recursive: true });
      writeFileSync(join(root, f), text);
    }
    writeFileSync(join(root, '.gitignore'), 'node_modules/\n');
    spawnSync('git', ['init', '-q', root]);
    const sha = (b: string | Buffer) => createHash('sha256').update(b).digest();
    const expected = createHash('sha256').update(sha('a')).update(sha('b')).digest('hex');
    const hash = hashFilesIn(root);
    assert.equal(hash(['**/package-lock.json']), expected, 'what git ignores is not in the workspace, so not hashed');
    assert.equal(hash(['./**/package-lock.json']), expected);
    assert.equal(hash(['**/package-lock.json', '!web/**']), createHash('sha256').update(sha('a')).digest('hex'));
    assert.equal(hash(['**/yarn.lock']), '');
    assert.notEqual(hash(['*.md']), hash(['**/package-lock.json']));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
