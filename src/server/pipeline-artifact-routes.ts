import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { LocalArtifactStore } from '../artifacts/artifact-store.ts';
import { NestorError } from '../errors.ts';
import { mayRead, readerOf } from './git-routes.ts';
import type { RepoMembers } from '../repos/repo-members.ts';
import type { JobTokens } from './job-tokens.ts';
import type { Store } from './store/store.ts';

/**
 * A pipeline's artifacts for people and for its own jobs: listed and downloaded (a tar per
 * job) with a user's token, or with the job token of a job of that same pipeline, which
 * reads no other pipeline's.
 */
export async function registerPipelineArtifactRoutes(app: FastifyInstance, deps: { store: Store; tokens: JobTokens; artifacts: LocalArtifactStore; members: RepoMembers }): Promise<void> {
  const tags = ['pipelines'];
  const pipelineFor = async (req: FastifyRequest, id: string) => {
    const reader = await readerOf(req, deps);
    if (!reader) throw new NestorError('NESTOR_UNAUTHENTICATED', 'Artifacts need a token', 'Send Authorization: Bearer TOKEN (a user token, or a job\'s CI_JOB_TOKEN for its own pipeline).');
    const pipeline = await deps.store.job(id);
    if (!pipeline || pipeline.pipelineId !== pipeline.id) throw new NestorError('NESTOR_JOB_NOT_FOUND', `No pipeline ${id}`, '`nestor pipelines list` shows the pipelines.');
    if (reader.kind === 'job' && reader.pipeline !== pipeline.id) throw new NestorError('NESTOR_JOB_TOKEN_SCOPE', 'A job token reads its own pipeline\'s artifacts only', 'Hand files between pipelines through a registry or a release, with a credential given as a secret.');
    if (reader.kind === 'user' && pipeline.repo && !(await mayRead(reader, pipeline.repo, deps.members))) throw new NestorError('NESTOR_FORBIDDEN', `${reader.name} may not read ${pipeline.repo}`, `Ask a maintainer of ${pipeline.repo} for the read role.`);
    return pipeline;
  };
  app.get<{ Params: { id: string } }>('/api/pipelines/:id/artifacts', { schema: { summary: 'What the jobs of a pipeline kept (user token, or a job token of the pipeline)', tags } }, async (req) => {
    const p = await pipelineFor(req, req.params.id);
    return { artifacts: deps.artifacts.list(p.id).map((a) => ({ job: a.job, bytes: a.bytes, expires_at: a.expiresAt === null ? null : new Date(a.expiresAt).toISOString(), url: `/api/pipelines/${p.id}/artifacts/${encodeURIComponent(a.job)}` })) };
  });
  app.get<{ Params: { id: string; job: string } }>('/api/pipelines/:id/artifacts/:job', { schema: { summary: 'A job\'s artifacts as a tar archive', tags } }, async (req, reply) => {
    const p = await pipelineFor(req, req.params.id);
    const archive = await deps.artifacts.open(p.id, req.params.job);
    if (!archive) throw new NestorError('NESTOR_ARTIFACTS_NOT_FOUND', `Job ${req.params.job} of pipeline ${p.id} left no artifacts, or they expired`, '`nestor pipelines artifacts` lists what the pipeline kept.');
    return reply.type('application/x-tar').header('content-disposition', `attachment; filename="${req.params.job.replace(/[^A-Za-z0-9_.-]+/g, '_')}.tar"`).send(archive);
  });
}
