import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_PIPELINE_LIMITS } from './limits.ts';
import { compileRegex, compileSlashPattern, RegexError, slashPattern } from './re2.ts';

const limits = DEFAULT_PIPELINE_LIMITS;

test('^(a+)+$ against 100,000 a and a ! answers at once, and rightly', () => {
  const re = compileRegex('^(a+)+$', limits);
  const t = performance.now();
  assert.equal(re.test(`${'a'.repeat(100_000)}!`), false);
  assert.equal(re.test('a'.repeat(100_000)), true);
  // Generous: a backtracking engine takes seconds on 25 characters already.
  assert.ok(performance.now() - t < 1000, `took ${performance.now() - t} ms`);
});

test('GitLab flags are RE2 flags: i, m, s and U', () => {
  assert.equal(compileSlashPattern('^main$', 'i', limits).test('MAIN'), true);
  assert.equal(compileSlashPattern('^main$', '', limits).test('MAIN'), false);
  assert.equal(compileSlashPattern('^b$', 'm', limits).test('a\nb\nc'), true);
  assert.equal(compileSlashPattern('^b$', '', limits).test('a\nb\nc'), false);
  assert.equal(compileSlashPattern('a.b', 's', limits).test('a\nb'), true);
  assert.equal(compileSlashPattern('a.b', '', limits).test('a\nb'), false);
  assert.equal(compileSlashPattern('^a+?$', 'U', limits).test('aaa'), true);
  assert.throws(() => compileSlashPattern('x', 'g', limits), /flag g is not one GitLab takes/);
});

test('/pattern/flags is read as GitLab reads it; anything else is not a pattern', () => {
  assert.deepEqual(slashPattern('/^release\\/.*$/i'), { pattern: '^release\\/.*$', flags: 'i' });
  assert.deepEqual(slashPattern('/a/b/'), { pattern: 'a/b', flags: '' });
  assert.equal(slashPattern('main'), undefined);
  assert.equal(slashPattern('/'), undefined);
  // An escaped slash inside is RE2 syntax for a slash.
  assert.equal(compileSlashPattern('^release\\/1', '', limits).test('release/1.2'), true);
});

test('what RE2 cannot run is named, with what to write instead', () => {
  const message = (pattern: string) => {
    try {
      compileRegex(pattern, limits);
    } catch (err) {
      assert.ok(err instanceof RegexError);
      assert.equal(err.limit, undefined);
      return err.message;
    }
    assert.fail(`${pattern} compiled`);
  };
  assert.match(message('(a)\\1'), /backreference/);
  assert.match(message('a(?=b)'), /lookahead or lookbehind/);
  assert.match(message('(?<!a)b'), /lookahead or lookbehind/);
  assert.match(message('a++'), /possessive/);
  assert.match(message('(?>a)'), /atomic group/);
  assert.match(message('a('), /missing closing \)/);
  for (const m of [message('(a)\\1'), message('a(')]) assert.match(m, /RE2 runs in linear time/);
});

test('a pattern over its length or size limit says which limit', () => {
  assert.throws(() => compileRegex('a'.repeat(2000), limits), (err: RegexError) => err.limit?.name === 'regexLength' && err.limit.actual === 2000);
  assert.throws(() => compileRegex('[a-z]{1000}[a-z]{1000}[a-z]{1000}[a-z]{1000}[a-z]{1000}[a-z]{1000}[a-z]{1000}[a-z]{1000}[a-z]{1000}[a-z]{1000}[a-z]{1000}', limits), (err: RegexError) => err.limit?.name === 'regexSize');
});
