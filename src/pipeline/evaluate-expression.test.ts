import assert from 'node:assert/strict';
import { test } from 'node:test';
import { evaluateExpression, unsupportedIn } from './evaluate-expression.ts';

const vars = { CI_COMMIT_BRANCH: 'main', CI_PIPELINE_EVENT: 'push', CI_COMMIT_TAG: 'v1.2.3' };

test("Woodpecker's evaluate: comparisons, logic, matches (on RE2), contains, in, and ${VAR} substitution", () => {
  assert.equal(evaluateExpression('CI_COMMIT_BRANCH == "main" && CI_PIPELINE_EVENT != "pull_request"', vars), true);
  assert.equal(evaluateExpression('CI_COMMIT_BRANCH == "dev" || not (CI_PIPELINE_EVENT == "push")', vars), false);
  assert.equal(evaluateExpression(`"\${CI_COMMIT_TAG}" matches '^v([0-9]+)\\.([0-9]+)\\.([0-9]+)$'`, vars), true);
  assert.equal(evaluateExpression('CI_COMMIT_TAG startsWith "v1" and CI_COMMIT_BRANCH in ["main", "release"]', vars), true);
  assert.equal(evaluateExpression('CI_COMMIT_BRANCH contains "ai"', vars), true);
  assert.equal(evaluateExpression('UNSET == ""', vars), true, 'an unknown variable is empty');
});

test('what it cannot evaluate is named when the file is read', () => {
  assert.equal(unsupportedIn('CI_COMMIT_BRANCH == "main"'), undefined);
  assert.match(unsupportedIn('len(fromJSON(CI_PIPELINE_FILES)) == 0')!, /the function len\(\)/);
  assert.match(unsupportedIn('any(x, { # startsWith "a" })')!, /the function any\(\)/);
  assert.match(unsupportedIn('CI_COMMIT_BRANCH == "main') ?? '', /not closed/);
  assert.match(unsupportedIn('x matches "(a"') ?? '', /./, 'a pattern RE2 cannot read is refused too');
});
