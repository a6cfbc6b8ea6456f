import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { ERROR_CODE_PATTERN, NestorError } from './errors.ts';
import { HTTP_STATUS, TITLES, problemOf, statusOf } from './http-status.ts';
import { PipelineError } from './pipeline/errors.ts';
import { PipelineLimitError } from './pipeline/limits.ts';
import { FencedError, NotHolderError, UnknownJobError } from './server/store/store.ts';

const SRC = new URL('.', import.meta.url).pathname;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sourceFiles(path);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') ? [path] : [];
  });
}

test('every code in the status table is a Nestor code, with a status that has a title', () => {
  for (const [code, status] of Object.entries(HTTP_STATUS)) {
    assert.match(code, ERROR_CODE_PATTERN);
    assert.ok(TITLES[status], `${code}: ${status} has a title`);
  }
});

test('every NESTOR_ literal in src/ is of the one pattern: codes (and variables) are NESTOR_ and upper-case words', () => {
  // The ErrorCode type makes every code start with NESTOR_; this checks the rest of it.
  for (const file of sourceFiles(SRC)) {
    const text = readFileSync(file, 'utf8');
    for (const m of text.matchAll(/'(NESTOR_\w*)'/g)) assert.match(m[1]!, ERROR_CODE_PATTERN, `${file}: ${m[1]}`);
    // A code written in any other form ('database_unavailable') passed to an error class.
    for (const m of text.matchAll(/new NestorError\(\s*'([^']*)'/g)) assert.match(m[1]!, ERROR_CODE_PATTERN, `${file}: ${m[1]}`);
  }
});

test('the statuses the API has always answered, by code', () => {
  const expected: Record<string, number> = {
    NESTOR_BAD_REQUEST: 400,
    NESTOR_UNAUTHENTICATED: 401,
    NESTOR_WEBHOOK_SIGNATURE: 401,
    NESTOR_FORBIDDEN: 403,
    NESTOR_ADMIN_ONLY: 403,
    NESTOR_REPO_OUTSIDE_ROOTS: 403,
    NESTOR_NOT_FOUND: 404,
    NESTOR_JOB_NOT_FOUND: 404,
    NESTOR_APP_NOT_FOUND: 404,
    NESTOR_FUNCTION_NOT_FOUND: 404,
    NESTOR_LEASE_LOST: 409,
    NESTOR_IMAGE_PRUNED: 409,
    NESTOR_BODY_TOO_LARGE: 413,
    NESTOR_PIPELINE_INVALID: 422,
    NESTOR_PIPELINE_LIMIT: 422,
    NESTOR_TARGET_REFUSED: 422,
    NESTOR_TARGET_RUNNER_NOT_FOUND: 422,
    NESTOR_FUNCTION_BUSY: 429,
    NESTOR_FUNCTION_FAILED: 502,
    NESTOR_COMPILER_BUSY: 503,
    NESTOR_FUNCTION_TIMEOUT: 504,
  };
  for (const [code, status] of Object.entries(expected)) assert.equal(HTTP_STATUS[code as keyof typeof HTTP_STATUS], status, code);
});

test('every refusal a compile can end in has a status: a submitter never gets a 500 for the pipeline sent', () => {
  for (const code of ['NESTOR_PIPELINE_INVALID', 'NESTOR_PIPELINE_UNSUPPORTED', 'NESTOR_PIPELINE_LIMIT', 'NESTOR_PIPELINE_NOT_FOUND', 'NESTOR_MANIFEST_INVALID', 'NESTOR_COMPILER_BUSY', 'NESTOR_SERVER_CLOSING'] as const) {
    assert.ok(HTTP_STATUS[code], code);
  }
  // Every code the pipeline code throws (its NestorErrors, not its variables) is in the table.
  const pipeline = sourceFiles(join(SRC, 'pipeline')).map((f) => readFileSync(f, 'utf8')).join('\n');
  for (const m of pipeline.matchAll(/(?:NestorError\(|super\(|code: ErrorCode = )\s*'(NESTOR_[A-Z0-9_]+)'/g)) {
    if (m[1] === 'NESTOR_REGEX_INVALID' || m[1] === 'NESTOR_RULE_INVALID') continue; // reported as problems of the pipeline
    assert.ok(Object.hasOwn(HTTP_STATUS, m[1]!), `${m[1]} has a status`);
  }
});

test('a problem answer: RFC 9457 fields, the code, the hint, and the error\'s own details', () => {
  const err = new NestorError('NESTOR_APP_NOT_FOUND', 'No application team/x', 'List them with `nestor apps list`.');
  assert.deepEqual(problemOf(err), {
    status: 404,
    body: { type: 'https://nestor.dev/problems/nestor-app-not-found', title: 'Not Found', status: 404, code: 'NESTOR_APP_NOT_FOUND', detail: 'No application team/x', hint: 'List them with `nestor apps list`.' },
  });
  const position = { file: 'p.yml', line: 3, column: 5 };
  const limit = new PipelineLimitError('steps', 10, position, 'the file has 11 steps', 11);
  const answer = problemOf(limit)!;
  assert.equal(answer.status, 422);
  assert.deepEqual(Object.keys(answer.body), ['type', 'title', 'status', 'code', 'detail', 'hint', 'problems', 'limit']);
  assert.deepEqual(answer.body.limit, { name: 'steps', max: 10, actual: 11 });
  assert.deepEqual(problemOf(new PipelineError([{ position, message: 'bad' }]))!.body.problems, [{ position, message: 'bad' }]);
  // toJSON, as the CLI prints it and compile threads send it, carries the same details.
  assert.deepEqual(limit.toJSON(), { error: 'NESTOR_PIPELINE_LIMIT', message: limit.message, hint: limit.hint, problems: limit.problems, limit: limit.limit });
});

test('a code the table does not list is no answer: the server\'s own failure', () => {
  const err = new NestorError('NESTOR_SECRET_KEY_FILE', 'Cannot make the key file', 'Make the data directory writable.');
  assert.equal(statusOf(err), undefined);
  assert.equal(problemOf(err), undefined);
  assert.equal(Object.hasOwn(HTTP_STATUS, 'toString'), false);
});

test('the store\'s refusals of a runner are Nestor errors with the codes and statuses of the runner protocol', () => {
  assert.deepEqual([new FencedError('j'), new NotHolderError('j', 'r'), new UnknownJobError('j')].map((e) => [e instanceof NestorError, e.code, statusOf(e)]), [
    [true, 'NESTOR_LEASE_LOST', 409],
    [true, 'NESTOR_FORBIDDEN', 403],
    [true, 'NESTOR_JOB_NOT_FOUND', 404],
  ]);
});
