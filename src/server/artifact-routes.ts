import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { ArtifactStore } from '../artifacts/artifact-store.ts';
import { NestorError } from '../errors.ts';
import type { Job, Store } from './store/store.ts';

/**
 * The runner protocol's artifacts: a job of a pipeline leaves its artifacts on the server
 * (PUT, a tar stream) for the jobs after it, which any runner fetches (GET) before they
 * start. Both are accepted only from the runner holding the job, with its lease token in
 * `x-nestor-lease`, and only between jobs of one pipeline.
 */
export async function registerArtifactRoutes(app: FastifyInstance, deps: { store: Store; artifacts: ArtifactStore }): Promise<void> {
  const { store, artifacts } = deps;
  const holding = async (id: string, runner: string, lease: unknown): Promise<Job & { pipelineId: string }> => {
    if (typeof lease !== 'string' || !lease) throw new NestorError('NESTOR_LEASE_MISSING', 'No lease token in x-nestor-lease', 'Send the token the lease answered, as the other runner calls do.');
    const job = await store.heldJob(id, runner, lease);
    if (!job.pipelineId || !job.spec.job) throw new NestorError('NESTOR_ARTIFACTS_NOT_IN_PIPELINE', `Job ${id} is not a job of a pipeline`, 'Artifacts pass between the jobs of one pipeline; a job on its own keeps none.');
    return job as Job & { pipelineId: string };
  };

  await app.register(async (scope) => {
    // The body is the archive itself, read as it arrives: the store caps its size.
    scope.addContentTypeParser('application/x-tar', (_req, payload, done) => done(null, payload));
    scope.put<{ Params: { id: string }; Querystring: { expires_at?: string } }>(
      '/api/runner/jobs/:id/artifacts',
      { config: { auth: ['runner'] }, schema: { summary: "Keep a job's artifacts for the jobs after it (runner; a tar body)", tags: ['runner protocol'] } },
      async (req, reply) => {
        const job = await holding(req.params.id, req.identity!.name, req.headers['x-nestor-lease']);
        const expires = req.query.expires_at === undefined || req.query.expires_at === 'never' ? null : Number(req.query.expires_at);
        if (expires !== null && !Number.isFinite(expires)) throw new NestorError('NESTOR_ARTIFACTS_EXPIRY_INVALID', `expires_at=${req.query.expires_at} is not a time`, 'Give milliseconds since the epoch, or never.');
        const stored = await artifacts.put(job.pipelineId, job.spec.job!, req.body as Readable, expires);
        return reply.code(201).send({ bytes: stored.bytes, expires_at: stored.expiresAt });
      },
    );
  });
  app.get<{ Params: { id: string; from: string } }>(
    '/api/runner/jobs/:id/artifacts/:from',
    { config: { auth: ['runner'] }, schema: { summary: 'The artifacts a job of the same pipeline left (runner)', tags: ['runner protocol'] } },
    async (req, reply) => {
      const job = await holding(req.params.id, req.identity!.name, req.headers['x-nestor-lease']);
      const archive = await artifacts.open(job.pipelineId, req.params.from);
      if (!archive) throw new NestorError('NESTOR_ARTIFACTS_NOT_FOUND', `Job ${req.params.from} of this pipeline left no artifacts, or they expired`, 'Check that job\'s log: it says what it kept.');
      return reply.type('application/x-tar').send(archive);
    },
  );
}
