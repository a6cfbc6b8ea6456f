import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { z } from 'zod';
import { NestorError, type ErrorCode } from '../errors.ts';
import { INTERNAL, problemOf, statusOf } from '../http-status.ts';

/** A request body checked against its schema, or a 400 naming every field to fix. */
export function parseBody<T>(schema: z.ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  const errors = result.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message }));
  throw new NestorError('NESTOR_BAD_REQUEST', errors.map((e) => `${e.path || 'body'}: ${e.message}`).join('; '), 'Fix the request body; /api/openapi.json describes every field.', { details: { errors } });
}

/** Answers `err` as application/problem+json, with the status src/http-status.ts gives its code. */
export function sendProblem(reply: FastifyReply, err: NestorError) {
  const problem = problemOf(err) ?? problemOf(INTERNAL)!;
  return reply.code(problem.status).type('application/problem+json').send(problem.body);
}

/** What a listener says about the requests Fastify refuses before a route runs. */
export interface RefusalTexts {
  bodyTooLarge: { message: string; hint: string };
  unsupportedMediaTypeHint: string;
  badRequestHint: string;
}

/** Fastify's own refusals by their status, as Nestor's codes; any other client error is a bad request. */
const FRAMEWORK_CODES: Record<number, ErrorCode> = {
  404: 'NESTOR_NOT_FOUND',
  413: 'NESTOR_BODY_TOO_LARGE',
  414: 'NESTOR_URL_TOO_LONG',
  415: 'NESTOR_UNSUPPORTED_MEDIA_TYPE',
};

/** A client error Fastify raised (a body over the limit, JSON that does not parse) as a NestorError; undefined for anything else. */
export function fromFramework(err: Pick<FastifyError, 'message' | 'statusCode'>, texts: RefusalTexts): NestorError | undefined {
  const status = err.statusCode;
  if (!status || status < 400 || status >= 500) return undefined;
  const code = FRAMEWORK_CODES[status] ?? 'NESTOR_BAD_REQUEST';
  if (code === 'NESTOR_BODY_TOO_LARGE') return new NestorError(code, texts.bodyTooLarge.message, texts.bodyTooLarge.hint);
  if (code === 'NESTOR_UNSUPPORTED_MEDIA_TYPE') return new NestorError(code, err.message, texts.unsupportedMediaTypeHint);
  return new NestorError(code, err.message, texts.badRequestHint);
}

/**
 * The one error handler of the server's listeners: a NestorError whose code has a status is
 * answered as it is, what Fastify refused is answered in Nestor's codes, and anything else is
 * the server's own failure: logged, and answered 500 NESTOR_INTERNAL without its text.
 */
export function problemHandler(texts: RefusalTexts, logMessage: string) {
  return (err: FastifyError | Error, req: FastifyRequest, reply: FastifyReply) => {
    const answer = err instanceof NestorError && statusOf(err) !== undefined ? err : fromFramework(err as FastifyError, texts);
    if (answer) return sendProblem(reply, answer);
    req.log.error({ err }, logMessage);
    return sendProblem(reply, INTERNAL);
  };
}
