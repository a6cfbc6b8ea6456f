import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import { NestorError, errorMessage } from '../errors.ts';
import type { FunctionGateway } from '../functions/gateway.ts';
import { registerFunctionRoutes } from './function-routes.ts';
import { problemHandler, sendProblem } from './problem.ts';

export interface FunctionsListenerConfig {
  port: number;
  host: string;
  logger: Logger;
  bodyLimit?: number;
}

/**
 * A listener that serves functions alone at `/NAMESPACE/PATH`, the URL the Zerverless notes
 * give, beside `/fn/NAMESPACE/PATH` on the API's port. It answers nothing else: no API, no
 * token, so it can be exposed where the API must not be.
 */
export async function startFunctionsListener(gateway: FunctionGateway, cfg: FunctionsListenerConfig): Promise<{ app: FastifyInstance; url: string }> {
  // Per-request lines are off, as on the API's port: every call is in the invocation log and metrics.
  const app = Fastify({ loggerInstance: cfg.logger.child({ listener: 'functions' }) as unknown as FastifyBaseLogger, logController: new LogController({ disableRequestLogging: true }) });
  app.setErrorHandler(
    problemHandler(
      {
        bodyTooLarge: { message: 'The request body is over the functions\' size limit (6 MiB unless configured otherwise)', hint: 'Send less, or hand large inputs over through storage and send a reference.' },
        unsupportedMediaTypeHint: 'Check the request.',
        badRequestHint: 'Check the request.',
      },
      'function request failed',
    ),
  );
  app.setNotFoundHandler((req, reply) => sendProblem(reply, new NestorError('NESTOR_FUNCTION_NOT_FOUND', `No function is deployed at ${req.url.split('?')[0]}`, 'Functions answer at /NAMESPACE/PATH on this port; `nestor apps list` shows what is deployed.')));
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
