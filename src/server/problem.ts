import type { z } from 'zod';
import type { NestorError } from '../errors.ts';

/**
 * An API error as RFC 9457 problem details: `type`, `title`, `status`, `detail`, plus Nestor's
 * stable `code` and a `hint` that says what to do next.
 */
export class HttpProblem extends Error {
  readonly status: number;
  readonly code: string;
  readonly hint: string;
  readonly extra: Record<string, unknown>;

  constructor(status: number, code: string, detail: string, hint: string, extra: Record<string, unknown> = {}) {
    super(detail);
    this.status = status;
    this.code = code;
    this.hint = hint;
    this.extra = extra;
  }
}

export const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Content',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export function problemBody(status: number, code: string, detail: string, hint: string, extra: Record<string, unknown> = {}) {
  return { type: `https://nestor.dev/problems/${code.toLowerCase().replace(/_/g, '-')}`, title: TITLES[status] ?? 'Error', status, code, detail, hint, ...extra };
}

/** A request body checked against its schema, or a 400 naming every field to fix. */
export function parseBody<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  const errors = result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  throw new HttpProblem(400, 'NESTOR_BAD_REQUEST', errors.map((e) => `${e.path || 'body'}: ${e.message}`).join('; '), 'Fix the request body; /api/openapi.json describes every field.', { errors });
}

/** HTTP statuses for errors raised below the routes; any other error is the server's own failure. */
const STATUS_BY_CODE: Record<string, number> = {
  NESTOR_PATH_OUTSIDE_REPOSITORY: 422,
  NESTOR_PATH_MISSING: 422,
  NESTOR_REPO_URL_REFUSED: 422,
  NESTOR_TARGET_REFUSED: 422,
  NESTOR_INVALID_DOCKER_HOST: 422,
  NESTOR_DOCKER_CONFIG_INVALID: 422,
  NESTOR_FUNCTION_NOT_FOUND: 404,
  NESTOR_FUNCTION_BUSY: 429,
  NESTOR_GIT_FAILED: 502,
  NESTOR_ENGINE_UNREACHABLE: 502,
};

/** The status a Nestor error answers with: its own `status` when it has one, else by its code. */
export function statusOf(err: NestorError): number | undefined {
  return (err as { status?: number }).status ?? STATUS_BY_CODE[err.code];
}
