import { NestorError, type ErrorCode } from './errors.ts';

/**
 * The HTTP status of every error code the server answers with: the one place a status is
 * chosen. The API's error handler, the functions port's and a function's own answers (timeout,
 * failure) all turn a NestorError into problem+json through `problemOf`, which looks here.
 * A code that is not listed is the server's own failure: 500 NESTOR_INTERNAL, with the error
 * logged and its text kept from the caller.
 */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = Object.freeze({
  // The request is not one the API reads.
  NESTOR_BAD_REQUEST: 400,
  NESTOR_LEASE_MISSING: 400,
  NESTOR_ARTIFACTS_EXPIRY_INVALID: 400,
  NESTOR_WEBHOOK_UNKNOWN: 400,
  NESTOR_WEBHOOK_BODY: 400,
  // Who is asking is not known.
  NESTOR_UNAUTHENTICATED: 401,
  NESTOR_WEBHOOK_SIGNATURE: 401,
  // Known, but not allowed.
  NESTOR_FORBIDDEN: 403,
  NESTOR_ADMIN_ONLY: 403,
  NESTOR_JOB_TOKEN_SCOPE: 403,
  NESTOR_TOKEN_SCOPE: 403,
  NESTOR_GIT_READ_ONLY: 403,
  NESTOR_REPO_OUTSIDE_ROOTS: 403,
  // What the URL names is not there.
  NESTOR_NOT_FOUND: 404,
  NESTOR_JOB_NOT_FOUND: 404,
  NESTOR_SHELL_NO_STEP: 404,
  NESTOR_RUNNER_NOT_FOUND: 404,
  NESTOR_APP_NOT_FOUND: 404,
  NESTOR_DEPLOYMENT_NOT_FOUND: 404,
  NESTOR_REGISTRY_NOT_FOUND: 404,
  NESTOR_FUNCTION_NOT_FOUND: 404,
  NESTOR_ARTIFACTS_NOT_FOUND: 404,
  NESTOR_REPO_NOT_FOUND: 404,
  NESTOR_CRON_NOT_FOUND: 404,
  NESTOR_SECRET_NOT_FOUND: 404,
  NESTOR_TARGET_NOT_FOUND: 404,
  NESTOR_MEMBER_NOT_FOUND: 404,
  NESTOR_TOKEN_NOT_FOUND: 404,
  NESTOR_PIPELINE_NUMBER_NOT_FOUND: 404,
  // It is there, in a state that refuses the request.
  NESTOR_LEASE_LOST: 409,
  NESTOR_APP_EXISTS: 409,
  NESTOR_REPO_EXISTS: 409,
  NESTOR_REPO_NOT_POLLED: 409,
  NESTOR_PIPELINE_NOT_HELD: 409,
  NESTOR_JOB_RUNNING: 409,
  NESTOR_SHELL_NOT_RUNNING: 409,
  NESTOR_JOB_NOT_MANUAL: 404,
  NESTOR_PIPELINE_STILL_RUNNING: 409,
  NESTOR_FUNCTION_TAKEN: 409,
  NESTOR_ROLLBACK_REFUSED: 409,
  NESTOR_IMAGE_PRUNED: 409,
  NESTOR_ARTIFACTS_NOT_IN_PIPELINE: 409,
  // The framework's refusals, in Nestor's codes.
  NESTOR_BODY_TOO_LARGE: 413,
  NESTOR_ARTIFACTS_TOO_LARGE: 413,
  NESTOR_URL_TOO_LONG: 414,
  NESTOR_UNSUPPORTED_MEDIA_TYPE: 415,
  // The request reads, but what it says cannot be done: a pipeline, manifest or setting to fix.
  NESTOR_PIPELINE_INVALID: 422,
  NESTOR_CRON_INVALID: 422,
  NESTOR_SECRET_NAME_INVALID: 422,
  NESTOR_TARGET_NAME_INVALID: 422,
  NESTOR_TARGET_URL_INVALID: 422,
  NESTOR_TARGET_CREDENTIALS_MISSING: 422,
  NESTOR_TARGET_REPOS_MISSING: 422,
  NESTOR_SECRET_EMPTY: 422,
  NESTOR_SECRET_TOO_LARGE: 413,
  NESTOR_PIPELINE_UNSUPPORTED: 422,
  NESTOR_PIPELINE_LIMIT: 422,
  NESTOR_PIPELINE_NOT_FOUND: 422,
  NESTOR_USAGE_UNKNOWN_JOB: 422,
  NESTOR_EXPRESSION_INVALID: 422,
  NESTOR_MANIFEST_INVALID: 422,
  NESTOR_MANIFEST_MISMATCH: 422,
  NESTOR_TARGET_RUNNER_NOT_FOUND: 422,
  NESTOR_REPO_URL_REFUSED: 422,
  NESTOR_REPO_CREDENTIALS_UNUSED: 422,
  NESTOR_REPO_DEPLOY_KEY_NEEDED: 422,
  NESTOR_PATH_OUTSIDE_REPOSITORY: 422,
  NESTOR_PATH_MISSING: 422,
  NESTOR_TARGET_REFUSED: 422,
  // A shell (sent as the WebSocket's closing error, with the status it would have had).
  NESTOR_SHELL_PIPELINE: 422,
  NESTOR_DOCKER_HOST_INVALID: 422,
  NESTOR_TLS_MATERIAL_MISSING: 422,
  NESTOR_DOCKER_CONFIG_INVALID: 422,
  // Slow down.
  NESTOR_FUNCTION_BUSY: 429,
  NESTOR_INTERNAL: 500,
  // Something the server depends on failed: a repository, an engine, a function.
  NESTOR_GIT_FAILED: 502,
  NESTOR_ENGINE_UNREACHABLE: 502,
  NESTOR_FUNCTION_FAILED: 502,
  NESTOR_FUNCTION_RESPONSE_TOO_LARGE: 502,
  NESTOR_SHELL_REFUSED: 502,
  NESTOR_SHELL_RUNNER_SILENT: 504,
  // Not now: retry.
  NESTOR_COMPILER_BUSY: 503,
  // A program the server needs to read the pipeline (jsonnet) is not installed: the operator installs it.
  NESTOR_JSONNET_MISSING: 503,
  NESTOR_SERVER_CLOSING: 503,
  NESTOR_FUNCTION_TIMEOUT: 504,
});

/** The status the server answers `err` with, or undefined: not an answer, the server's own failure. */
export function statusOf(err: NestorError): number | undefined {
  return Object.hasOwn(HTTP_STATUS, err.code) ? HTTP_STATUS[err.code] : undefined;
}

export const TITLES: Readonly<Record<number, string>> = Object.freeze({
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Content Too Large',
  414: 'URI Too Long',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
});

/** The error the server answers with when it failed itself: its text stays in the server's log. */
export const INTERNAL = new NestorError('NESTOR_INTERNAL', 'The server failed to answer', 'Retry; if it persists, the server log has the cause.');

export interface Problem {
  status: number;
  /**
   * RFC 9457 problem details: `type`, `title`, `status`, `detail`, plus Nestor's stable `code`,
   * a `hint` that says what to do next, and the error's own details (a pipeline's problems, the
   * limit passed, a request's fields to fix).
   */
  body: Record<string, unknown>;
}

/**
 * The problem+json answer to `err`: its status from HTTP_STATUS, or undefined when the table
 * has none (the caller logs the error and answers INTERNAL).
 */
export function problemOf(err: NestorError): Problem | undefined {
  const status = statusOf(err);
  if (status === undefined) return undefined;
  return {
    status,
    body: { type: `https://nestor.dev/problems/${err.code.toLowerCase().replace(/_/g, '-')}`, title: TITLES[status] ?? 'Error', status, code: err.code, detail: err.message, hint: err.hint, ...err.details() },
  };
}
