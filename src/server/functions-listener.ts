import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply } from 'fastify';
import type { Logger } from 'pino';
import { NestorError, errorMessage } from '../errors.ts';
import type { FunctionGateway } from '../functions/gateway.ts';
import { registerFunctionRoutes } from './function-routes.ts';
import { problemBody, statusOf } from './problem.ts';

export interface FunctionsListenerConfig {
  port: number;
  host: string;
  logger: Logger;
  bodyLimit?: number;
}

function sendProblem(reply: FastifyReply, status: number, code: string, detail: string, hint: string) {
  return reply.code(status).type('application/problem+json').send(problemBody(status, code, detail, hint));
}

/**
 * A listener that serves functions alone at `/NAMESPACE/PATH`, the URL the Zerverless notes
 * give, beside `/fn/NAMESPACE/PATH` on the API's port. It answers nothing else: no API, no
 * token, so it can be exposed where the API must not be.
 */
export async function startFunctionsListener(gateway: FunctionGateway, cfg: FunctionsListenerConfig): Promise<{ app: FastifyInstance; url: string }> {
  // Per-request lines are off, as on the API's port: every call is in the invocation log and metrics.
  const app = Fastify({ loggerInstance: cfg.logger.child({ listener: 'functions' }) as unknown as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }) });
  app.setErrorHandler((err: Error & { code?: string; statusCode?: number }, req, reply) => {
    if (err instanceof NestorError) {
      const status = statusOf(err);
      if (status) return sendProblem(reply, status, err.code, err.message, err.hint);
    }
    if (err.code === 'FST_ERR_CTP_BODY_TOO_LARGE') return sendProblem(reply, 413, 'NESTOR_BODY_TOO_LARGE', 'The request body is over the functions\' size limit (6 MiB unless configured otherwise)', 'Send less, or hand large inputs over through storage and send a reference.');
    if (err.statusCode && err.statusCode < 500) return sendProblem(reply, err.statusCode, 'NESTOR_BAD_REQUEST', err.message, 'Check the request.');
    req.log.error({ err }, 'function request failed');
    return sendProblem(reply, 500, 'NESTOR_INTERNAL', 'The server failed to answer', 'Retry; if it persists, the server log has the cause.');
  });
  app.setNotFoundHandler((req, reply) => sendProblem(reply, 404, 'NESTOR_FUNCTION_NOT_FOUND', `No function is deployed at ${req.url.split('?')[0]}`, 'Functions answer at /NAMESPACE/PATH on this port; `nestor apps list` shows what is deployed.'));
  await registerFunctionRoutes(app, gateway, { prefix: '', ...(cfg.bodyLimit ? { bodyLimit: cfg.bodyLimit } : {}) });
  try {
    await app.listen({ port: cfg.port, host: cfg.host });
  } catch (err) {
    await app.close().catch(() => undefined);
    throw new NestorError(
      'NESTOR_FUNCTIONS_PORT_UNAVAILABLE',
      `Cannot serve functions on port ${cfg.port}: ${errorMessage(err)}`,
      'Pick a free port with --functions-port (NESTOR_FUNCTIONS_PORT), or leave it out: functions are always served at /fn/NAMESPACE/PATH on the main port.',
      { cause: err },
    );
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : cfg.port;
  return { app, url: `http://127.0.0.1:${port}` };
}
