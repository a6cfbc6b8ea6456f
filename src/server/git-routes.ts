import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Transform, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { NestorError } from '../errors.ts';
import type { RepositoryCache } from '../gitops/git.ts';
import type { RepoStore } from '../repos/repo-store.ts';
import { covers, type RepoMembers } from '../repos/repo-members.ts';
import { JobTokens, tokenOf } from './job-tokens.ts';
import type { Store } from './store/store.ts';

/** A fetch's request is its wants and haves: this bounds it far above any real one. */
const MAX_REQUEST_BYTES = 16 * 1024 * 1024;

export interface GitRoutesDeps {
  store: Store;
  repos: RepoStore;
  tokens: JobTokens;
  mirror: RepositoryCache;
  gitEnv: NodeJS.ProcessEnv;
  members: RepoMembers;
}

/** Who reads: a job of one repository (its token), or a user of the server (any repository). */
export type GitReader = { kind: 'job'; job: string; repo: string; pipeline: string | null } | { kind: 'user'; name: string; admin: boolean };

/** Whether the reader may read the repository: a job its own, a user one they have a role on, the admin any. */
export async function mayRead(reader: GitReader, repo: string, members: RepoMembers): Promise<boolean> {
  if (reader.kind === 'job') return reader.repo === repo;
  return reader.admin || covers(await members.roleOf(repo, reader.name), 'read');
}

/** The caller of a request that takes a job's token as well as a user's; undefined when it shows none that holds. */
export async function readerOf(req: FastifyRequest, deps: Pick<GitRoutesDeps, 'store' | 'tokens'>): Promise<GitReader | undefined> {
  const token = tokenOf(req.headers.authorization);
  if (!token) return undefined;
  if (JobTokens.looksLike(token)) {
    const job = await deps.tokens.verify(token);
    return job ? { kind: 'job', job: job.id, repo: job.repo, pipeline: job.pipelineId } : undefined;
  }
  const identity = await deps.store.findToken(token);
  return identity && (identity.kind === 'admin' || identity.kind === 'user') ? { kind: 'user', name: identity.name, admin: identity.kind === 'admin' } : undefined;
}

class Unauthenticated extends NestorError {
  constructor() {
    super('NESTOR_UNAUTHENTICATED', 'Reading a repository through Nestor needs a token', 'In a job, use its token: git clone http://nestor:$CI_JOB_TOKEN@HOST/git/OWNER/NAME.git (or the netrc it has); outside, a user token as the password.');
  }
}

/**
 * Git's smart HTTP protocol, read only, over the server's mirror of each repository, for
 * the jobs of that repository (their token reads it and no other) and users: a job fetches
 * its repository (submodules of its own, another ref) without any forge credential.
 */
export async function registerGitRoutes(app: FastifyInstance, deps: GitRoutesDeps): Promise<void> {
  const authorize = async (req: FastifyRequest, reply: FastifyReply, repoName: string) => {
    const reader = await readerOf(req, deps);
    if (!reader) {
      // Git asks its credential helpers (or the URL, or netrc) only after a 401 with a challenge.
      void reply.header('www-authenticate', 'Basic realm="Nestor"');
      throw new Unauthenticated();
    }
    if (reader.kind === 'job' && reader.repo !== repoName) {
      req.log.warn({ job: reader.job, repo: reader.repo, asked: repoName }, 'job token refused for another repository');
      throw new NestorError('NESTOR_JOB_TOKEN_SCOPE', `A job token of ${reader.repo} reads that repository only, not ${repoName}`, `Give the job a credential of ${repoName} as a secret (nestor secrets set) if it must read it.`);
    }
    if (reader.kind === 'user' && !(await mayRead(reader, repoName, deps.members))) {
      throw new NestorError('NESTOR_FORBIDDEN', `${reader.name} may not read ${repoName}`, `Ask a maintainer of ${repoName} for the read role.`);
    }
    const repo = await deps.repos.get(repoName);
    const dir = repo ? deps.mirror.pathOf(repo.url) : undefined;
    if (!repo || !dir || !existsSync(dir)) throw new NestorError('NESTOR_REPO_NOT_FOUND', `No repository ${repoName} on this server${repo ? ' has been fetched yet' : ''}`, '`nestor repos list` shows the repositories; one is fetched at its first pipeline.');
    return dir;
  };

  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
    scope.get<{ Params: { '*': string }; Querystring: { service?: string } }>('/git/*', { schema: { hide: true } }, async (req, reply) => {
      const m = /^(.+?)(?:\.git)?\/info\/refs$/.exec(req.params['*']);
      if (!m) throw new NestorError('NESTOR_NOT_FOUND', `No Git route ${req.url}`, 'Clone http://HOST/git/OWNER/NAME.git.');
      if (req.query.service !== 'git-upload-pack') throw readOnly(req.query.service);
      const dir = await authorize(req, reply, m[1]!);
      const advert = await run(deps.gitEnv, req, ['upload-pack', '--stateless-rpc', '--advertise-refs', dir]);
      const protocolV2 = /version=2/.test(String(req.headers['git-protocol'] ?? ''));
      // Protocol v0/v1 opens with the service line; v2's capability advertisement stands alone.
      const head = protocolV2 ? Buffer.alloc(0) : Buffer.from(`${pktLine('# service=git-upload-pack\n')}0000`);
      return reply.header('cache-control', 'no-cache').type('application/x-git-upload-pack-advertisement').send(Buffer.concat([head, advert]));
    });
    scope.post<{ Params: { '*': string } }>('/git/*', { schema: { hide: true } }, async (req, reply) => {
      const m = /^(.+?)(?:\.git)?\/(git-[a-z-]+)$/.exec(req.params['*']);
      if (!m) throw new NestorError('NESTOR_NOT_FOUND', `No Git route ${req.url}`, 'Clone http://HOST/git/OWNER/NAME.git.');
      if (m[2] !== 'git-upload-pack') throw readOnly(m[2]);
      const dir = await authorize(req, reply, m[1]!);
      let body = req.body as Readable;
      if (req.headers['content-encoding'] === 'gzip') body = body.pipe(createGunzip());
      // The pack streams out as git makes it: a large repository is never held in memory.
      const child = gitChild(deps.gitEnv, req, ['upload-pack', '--stateless-rpc', dir]);
      let stderr = '';
      child.stderr.on('data', (c: Buffer) => (stderr = (stderr + c.toString()).slice(-2000)));
      child.on('close', (code) => code && req.log.warn({ code, stderr: stderr.trim() }, 'git upload-pack failed'));
      body.on('error', () => child.kill());
      body.pipe(bounded(MAX_REQUEST_BYTES)).on('error', () => child.kill()).pipe(child.stdin);
      return reply.header('cache-control', 'no-cache').type('application/x-git-upload-pack-result').send(child.stdout);
    });
  });
}

function readOnly(service: string | undefined): NestorError {
  return new NestorError('NESTOR_GIT_READ_ONLY', `Nestor serves repositories to fetch, not ${service ?? 'this'}`, 'Push to the forge the repository is from; Nestor runs what arrives there.');
}

function pktLine(text: string): string {
  return (text.length + 4).toString(16).padStart(4, '0') + text;
}

function bounded(max: number): Transform {
  let bytes = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      bytes += chunk.length;
      if (bytes > max) done(new NestorError('NESTOR_BODY_TOO_LARGE', `A fetch request of more than ${max} bytes`, 'Fetch with a shallower history or fewer refs.'));
      else done(null, chunk);
    },
  });
}

/** git, speaking the protocol version the client asked for (Git-Protocol: version=2). */
function gitChild(env: NodeJS.ProcessEnv, req: FastifyRequest, args: string[]) {
  const protocol = String(req.headers['git-protocol'] ?? '');
  return spawn('git', args, { env: { ...env, ...(/^version=\d$/.test(protocol) ? { GIT_PROTOCOL: protocol } : {}) }, stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Runs git and answers its whole standard output (a ref advertisement: small). */
function run(env: NodeJS.ProcessEnv, req: FastifyRequest, args: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = gitChild(env, req, args);
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => (err = (err + c.toString()).slice(-2000)));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(Buffer.concat(out)) : reject(new NestorError('NESTOR_GIT_FAILED', `git ${args[0]} failed (${code}): ${err.trim()}`, 'Check the server\'s mirror of the repository (its data directory, mirrors/).'))));
    child.stdin.end();
  });
}
