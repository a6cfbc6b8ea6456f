import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ExpressionError, evaluateIf, interpolate, parseExpression, type ExpressionScope } from './expression.ts';

const scope: ExpressionScope = {
  contexts: {
    github: { ref: 'refs/heads/main', event_name: 'push', event: { pull_request: null, commits: [{ message: 'fix: a' }, { message: 'docs' }] }, repository: 'team/app' },
    matrix: { os: 'ubuntu-latest', node: 20 },
    env: { CI: 'true' },
    needs: { build: { result: 'success', outputs: { version: '1.2.3' } } },
    steps: {},
  },
};
const value = (text: string, s: ExpressionScope = scope) => parseExpression(text)(s);

test("literals, contexts, and GitHub's loose comparison", () => {
  assert.equal(value("github.ref == 'refs/heads/main'"), true);
  assert.equal(value("github.REF == 'REFS/HEADS/MAIN'"), true, 'names and strings compare ignoring case');
  assert.equal(value("matrix.node == '20'"), true, 'a string and a number compare as numbers');
  assert.equal(value('null == 0'), true);
  assert.equal(value("github['event_name']"), 'push');
  assert.equal(value('github.nothing.deeper'), null);
  assert.equal(value("'it''s'"), "it's");
  assert.equal(value('0x10 > 15 && -1 < 0'), true);
});

test('&& and || answer an operand, as GitHub does; ! negates', () => {
  assert.equal(value("github.event.pull_request && 'pr' || 'push'"), 'push');
  assert.equal(value("!github.event.pull_request"), true);
  assert.equal(value("needs.build.outputs.version || 'none'"), '1.2.3');
});

test('functions: contains, startsWith, endsWith, format, join, toJSON, fromJSON, and object filters', () => {
  assert.equal(value("contains(github.event.commits.*.message, 'docs')"), true);
  assert.equal(value("contains('Hello World', 'world')"), true);
  assert.equal(value("startsWith(github.ref, 'refs/tags/')"), false);
  assert.equal(value("endsWith(github.repository, '/APP')"), true);
  assert.equal(value("format('{0}-{1} {{x}}', matrix.os, matrix.node)"), 'ubuntu-latest-20 {x}');
  assert.equal(value("join(fromJSON('[\"a\",\"b\"]'), '+')"), 'a+b');
  assert.equal(value("fromJSON('{\"n\": 3}').n"), 3);
  assert.equal(value('toJSON(matrix)'), '{\n  "os": "ubuntu-latest",\n  "node": 20\n}');
});

test('if: implies success() unless a status function is named', () => {
  const failed = { ...scope, status: { failed: true, cancelled: false } };
  assert.equal(evaluateIf("github.event_name == 'push'", scope), true);
  assert.equal(evaluateIf("github.event_name == 'push'", failed), false);
  assert.equal(evaluateIf('${{ always() }}', failed), true);
  assert.equal(evaluateIf('failure()', failed), true);
  assert.equal(evaluateIf("${{ failure() && github.ref == 'refs/heads/main' }}", failed), true);
});

test('${{ }} in strings, and errors that name the expression and why', () => {
  assert.equal(interpolate('node-${{ matrix.node }} on ${{ matrix.os }}', scope), 'node-20 on ubuntu-latest');
  assert.throws(() => parseExpression("github.ref == 'main"), (e: ExpressionError) => e.code === 'NESTOR_EXPRESSION_INVALID' && /not closed/.test(e.message));
  assert.throws(() => parseExpression('nosuch(1)'), /there is no function nosuch\(\)/);
  assert.throws(() => value('unknown.x'), /there is no context unknown/);
});
