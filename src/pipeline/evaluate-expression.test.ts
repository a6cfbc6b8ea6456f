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
  assert.match(unsupportedIn('sortBy(x, "a") == 0')!, /the function sortBy\(\)/);
  assert.match(unsupportedIn('# == "a"')!, /# outside a closure/);
  assert.match(unsupportedIn('CI_COMMIT_BRANCH == "main') ?? '', /not closed/);
  assert.match(unsupportedIn('x matches "(a"') ?? '', /./, 'a pattern RE2 cannot read is refused too');
});

test('$env, functions and closures, as files gate a step on the files a push changed', () => {
  // Run when the forge did not say which files changed, when it said none, or when one is under a folder.
  const gate = '(not ("CI_PIPELINE_FILES" in $env)) || CI_PIPELINE_FILES == "[]" || any(fromJSON(CI_PIPELINE_FILES), { # startsWith "internal/" || # startsWith "cmd/" }) || len(fromJSON(CI_PIPELINE_FILES)) == 0';
  assert.equal(unsupportedIn(gate), undefined);
  assert.equal(evaluateExpression(gate, vars), true, 'no file list: run');
  assert.equal(evaluateExpression(gate, { ...vars, CI_PIPELINE_FILES: '["docs/a.md"]' }), false);
  assert.equal(evaluateExpression(gate, { ...vars, CI_PIPELINE_FILES: '["docs/a.md","internal/x.go"]' }), true);
  assert.equal(evaluateExpression(gate, { ...vars, CI_PIPELINE_FILES: '[]' }), true);
  assert.equal(evaluateExpression('$env.CI_COMMIT_BRANCH == "main" && $env["CI_PIPELINE_EVENT"] == "push"', vars), true);
  assert.equal(evaluateExpression('all(["a1", "a2"], { # startsWith "a" }) && none(["b"], { # == "a" }) && count(["a", "a", "b"], { # == "a" }) == 2', vars), true);
  assert.equal(evaluateExpression('lower(upper(CI_COMMIT_BRANCH)) == "main" and CI_COMMIT_BRANCH not in ["dev", "next"]', vars), true);
  assert.equal(evaluateExpression('CI_COMMIT_TAG not matches "^v2" && split(CI_COMMIT_TAG, ".")[1] == "2"', vars), true);
  assert.equal(evaluateExpression('(CI_COMMIT_BRANCH == "main" ? "prod" : "dev") == "prod"', vars), true);
  assert.equal(evaluateExpression('fromJSON("{\\"a\\": 1}").a == 1 && trimPrefix(CI_COMMIT_TAG, "v") == "1.2.3"', vars), true);
  assert.equal(evaluateExpression('"${CI_COMMIT_BRANCH}" + "-x" == "main-x"', vars), true);
});
