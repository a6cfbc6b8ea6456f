import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { FunctionBusyError, type InvocationResult } from '../functions/function-service.ts';
import type { FunctionGateway } from '../functions/gateway.ts';

export const FUNCTION_BODY_LIMIT = 6 * 1024 * 1024;

type FunctionRequest = FastifyRequest<{ Params: { namespace: string; '*': string } }>;

/**
 * `ANY PREFIX/NAMESPACE/PATH` handed to the gateway: `/fn` on the API's port, nothing on the
 * functions port. One handler for both, so a function answers the same wherever it is called.
 */
export async function registerFunctionRoutes(app: FastifyInstance, gateway: FunctionGateway, opts: { prefix: string; bodyLimit?: number }): Promise<void> {
  await app.register(async (scope) => {
    // Any method and any body: the function decides what its request means.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: opts.bodyLimit ?? FUNCTION_BODY_LIMIT }, (_req, body, done) => done(null, body));
    const invoke = async (req: FunctionRequest, reply: FastifyReply) => {
      const url = req.raw.url ?? '';
      const q = url.indexOf('?');
      let result: InvocationResult;
      try {
        result = await gateway.invoke(req.params.namespace, req.params['*'], {
          method: req.method,
          query: q >= 0 ? url.slice(q + 1) : '',
          headers: req.headers,
          body: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
        });
      } catch (err) {
        if (err instanceof FunctionBusyError) reply.header('retry-after', '1');
        throw err;
      }
      reply.code(result.response.status).headers(result.response.headers);
      reply.header('x-nestor-start', result.start);
      return reply.send(result.response.body);
    };
    scope.all<{ Params: { namespace: string; '*': string } }>(`${opts.prefix}/:namespace/*`, { schema: { hide: true } }, invoke);
  });
}
