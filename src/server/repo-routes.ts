import { randomBytes } from 'node:crypto';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { NestorError } from '../errors.ts';
import { checkRepoUrl } from '../gitops/git.ts';
import { isLocalRepo, splitRepoUrl } from '../gitops/repo-url.ts';
import { deliveryKeys, normaliseRepoUrl, signatureHeader, verifySignature } from '../gitops/webhook.ts';
import type { WebhookDeliveries } from '../gitops/webhook-deliveries.ts';
import type { RepoPipelines, Started } from '../repos/repo-pipelines.ts';
import type { PipelineTrigger } from '../repos/repo-run.ts';
import type { PollState, RepoRecord, RepoStore } from '../repos/repo-store.ts';
import type { CronRecord, CronStore } from '../repos/cron-store.ts';
import { forgeOf, parseTrigger, skipReason } from '../repos/webhook-trigger.ts';
import { redactUrls } from '../secrets/redact.ts';
import { requireAdmin } from './authz.ts';
import { parseBody as parse } from './problem.ts';
import { jsonSchema } from './schemas.ts';
import type { Job, JobStatus, Store } from './store/store.ts';
import { publicJob } from './app.ts';
import { queuedReason } from './queue-reason.ts';
import { badgeSvg } from './badge.ts';
import { createForgeWebhook } from '../repos/forge-webhook.ts';
import { readableRepos } from './repo-access.ts';
import { ROLES, type RepoMembers } from '../repos/repo-members.ts';

export interface RepoRoutesDeps {
  store: Store;
  repos: RepoStore;
  members: RepoMembers;
  pipelines: RepoPipelines;
  deliveries: WebhookDeliveries;
  /** Told of each pipeline made, for its first status on the forge and the lease pollers. */
  onPipeline: (pipelineId: string) => void;
  crons: CronStore;
  now: () => number;
  /** Told when a cron schedule is added or removed. */
  onCronsChanged?: () => void;
  /** Told when a repository is added or changed (its polling may have started or stopped). */
  onRepoChanged?: () => void;
  /** How long a webhook waits for its pipeline before answering 202 and going on without it. */
  webhookAnswerMs?: number;
  /** How long a runner unseen counts as offline (for why a queued job is not taken). */
  offlineMs: number;
  /** The server's URL as forges reach it, for the webhook `repos add` makes on the forge. */
  publicUrl: () => string;
}

/** owner/name, GitLab's group/sub/name: segments of letters, digits, ".", "_" and "-". */
const REPO_NAME = z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]*(\/[A-Za-z0-9_][A-Za-z0-9_.-]*){1,4}$/, 'owner/name: letters, digits, ".", "_" and "-" in 2 to 5 segments').max(200);
const forge = z.strictObject({
  kind: z.enum(['github', 'gitlab', 'gitea', 'forgejo']),
  api_url: z.url(),
  project: z.string().min(1).max(200).optional(),
  token: z.string().min(1).max(8192).optional(),
});
const repoSettings = {
  default_branch: z.string().min(1).max(255),
  config_path: z.string().min(1).max(255).nullable(),
  trusted: z.boolean(),
  timeout_s: z.number().int().min(10).max(7 * 86_400),
  poll_interval_s: z.number().int().min(10).max(86_400).nullable(),
  forge: forge.nullable(),
  auto_cancel: z.boolean(),
};
export const addRepoBody = z.strictObject({
  url: z.string().min(1).max(2048),
  name: REPO_NAME.optional(),
  credentials: z.strictObject({ username: z.string().min(1).max(1024), password: z.string().max(8192) }).optional(),
  /** An ssh:// repository's deploy key (its private key): required for ssh, the server's own keys are never used. */
  ssh_key: z.string().min(1).max(16_384).regex(/-----BEGIN [A-Z ]*PRIVATE KEY-----/, 'a private key (OpenSSH or PEM)').optional(),
  default_branch: repoSettings.default_branch.default('main'),
  config_path: repoSettings.config_path.optional(),
  trusted: repoSettings.trusted.default(false),
  timeout_s: repoSettings.timeout_s.default(3600),
  poll_interval_s: repoSettings.poll_interval_s.optional(),
  forge: forge.optional(),
  auto_cancel: repoSettings.auto_cancel.default(false),
  /** With a forge token: add the webhook on the forge (default), or leave it to the user. */
  create_webhook: z.boolean().default(true),
});
export const updateRepoBody = z.strictObject({
  default_branch: repoSettings.default_branch.optional(),
  config_path: repoSettings.config_path.optional(),
  trusted: repoSettings.trusted.optional(),
  timeout_s: repoSettings.timeout_s.optional(),
  poll_interval_s: repoSettings.poll_interval_s.optional(),
  forge: repoSettings.forge.optional(),
  auto_cancel: repoSettings.auto_cancel.optional(),
  rotate_webhook_secret: z.boolean().optional(),
});

/** The repository's name from its URL: its last two path segments (team/app of …/team/app.git). */
export function repoNameOf(url: string): string | undefined {
  const path = normaliseRepoUrl(url).split('/').filter(Boolean);
  const name = path.slice(-2).join('/');
  return REPO_NAME.safeParse(name).success ? name : undefined;
}

function publicRepo(r: RepoRecord & PollState) {
  return {
    name: r.name,
    url: redactUrls(r.url),
    credentials: r.credential !== null,
    deploy_key: r.sshKey !== null,
    default_branch: r.defaultBranch,
    config_path: r.configPath,
    trusted: r.trusted,
    timeout_s: r.timeoutS,
    poll_interval_s: r.pollIntervalS,
    auto_cancel: r.autoCancel,
    forge: r.forge ? { kind: r.forge.kind, api_url: r.forge.apiUrl, project: r.forge.project, token: r.forgeToken !== null } : null,
    webhook: { path: `/api/repos/${encodeURIComponent(r.name)}/hooks` },
    ...(r.pollIntervalS !== null ? { poll: { next_at: r.nextPollAt ? new Date(r.nextPollAt).toISOString() : null, refs_seen: r.polledRefs ? Object.keys(r.polledRefs).length : null, failures: r.pollFailures, error: r.pollError } } : {}),
    created_at: new Date(r.createdAt).toISOString(),
  };
}

/** A pipeline of a repository as the API shows it: its number, trigger, status and jobs. */
export function publicPipeline(p: Job, jobs?: Job[], why?: (j: Job) => string | undefined) {
  const base = publicJob(p);
  return {
    id: p.id,
    repo: p.repo,
    number: p.number,
    status: p.status,
    trigger: p.trigger,
    error: p.error,
    ...(p.heldFor === 'approval' ? { waiting_for: 'approval' } : {}),
    ...(p.approvedBy ? { approved: { by: p.approvedBy, at: new Date(p.approvedAt!).toISOString() } } : {}),
    created_at: base.created_at,
    started_at: base.started_at,
    finished_at: base.finished_at,
    ...(base.duration_ms !== undefined ? { duration_ms: base.duration_ms } : {}),
    ...(jobs ? { jobs: jobs.map((j) => ({ id: j.id, name: j.spec.job ?? j.name, status: j.status, runner: j.runner, needs: j.needs, error: j.error, ...(why?.(j) ? { waiting_reason: why(j) } : {}), started_at: publicJob(j).started_at, finished_at: publicJob(j).finished_at })) } : {}),
  };
}

class WebhookRefused extends NestorError {
  constructor(header: string) {
    super('NESTOR_WEBHOOK_SIGNATURE', `The webhook is not signed with this repository's secret (${header})`, 'Set the webhook\'s secret to the one `nestor repos add` showed (rotate it with `nestor repos update --rotate-webhook-secret`).');
  }
}

/** /api/repos: repositories, their webhooks and their pipelines. */
export async function registerRepoRoutes(app: FastifyInstance, deps: RepoRoutesDeps): Promise<void> {
  const { repos, store } = deps;
  const auth = { auth: ['admin' as const, 'user' as const] };
  const tags = ['repositories'];
  const doc = (summary: string, body?: z.ZodType) => ({ summary, tags, ...(body ? { body: jsonSchema(body) } : {}) });

  const findRepo = async (name: string) => {
    const repo = await repos.get(name);
    if (!repo) throw new NestorError('NESTOR_REPO_NOT_FOUND', `No repository ${name}`, '`nestor repos list` shows the repositories; `nestor repos add URL` adds one.');
    return repo;
  };

  app.post('/api/repos', { config: auth, schema: doc('Add a repository: its pipeline files run on each push, tag and pull request', addRepoBody) }, async (req, reply) => {
    const body = parse(addRepoBody, req.body);
    const split = splitRepoUrl(body.url);
    checkRepoUrl(split.url);
    // A local repository is a path on the server's own disk, and trust lowers isolation: the admin's.
    if (isLocalRepo(split.url)) requireAdmin(req, 'add a repository from the server\'s own disk (file:// or a path)', 'Serve it from a forge (https:// or ssh://).');
    if (body.trusted) requireAdmin(req, 'mark a repository trusted', 'Add it untrusted: its jobs run in a user namespace, which most pipelines need no more than.');
    const ssh = /^ssh:\/\//.test(split.url) || /^[\w.-]+@[\w.-]+:/.test(split.url);
    if (ssh && !body.ssh_key) throw new NestorError('NESTOR_REPO_DEPLOY_KEY_NEEDED', `${redactUrls(split.url)} is reached over ssh, and no deploy key was given`, 'Give the repository a deploy key of its own (read-only on the forge): nestor repos add URL --ssh-key FILE. Nestor never uses the server\'s own ssh keys for a repository.');
    if (!ssh && body.ssh_key) throw new NestorError('NESTOR_REPO_CREDENTIALS_UNUSED', 'A deploy key was given for a repository not reached over ssh', 'Give an ssh:// URL with --ssh-key, or credentials for https.');
    const name = body.name ?? repoNameOf(split.url);
    if (!name) throw new NestorError('NESTOR_BAD_REQUEST', `Cannot make a repository name (owner/name) of ${redactUrls(split.url)}`, 'Give one with --name owner/name.');
    const webhookSecret = randomBytes(24).toString('base64url');
    const record = {
      name,
      url: split.url,
      credential: body.credentials ?? split.credential,
      sshKey: body.ssh_key ?? null,
      defaultBranch: body.default_branch,
      configPath: body.config_path ?? null,
      trusted: body.trusted,
      timeoutS: body.timeout_s,
      webhookSecret,
      forge: body.forge ? { kind: body.forge.kind === 'forgejo' ? ('gitea' as const) : body.forge.kind, apiUrl: body.forge.api_url.replace(/\/+$/, ''), project: body.forge.project ?? name } : null,
      forgeToken: body.forge?.token ?? null,
      pollIntervalS: body.poll_interval_s ?? null,
      autoCancel: body.auto_cancel,
    };
    if (!(await repos.add(record))) throw new NestorError('NESTOR_REPO_EXISTS', `A repository named ${name} is there already`, 'Give another with --name, or change it with `nestor repos update`.');
    req.log.info({ repo: name, by: req.identity?.name }, 'repository added');
    // Whoever connects a repository maintains it (the admin needs no role).
    if (req.identity?.kind === 'user') await deps.members.grant(name, req.identity.name, 'maintain', req.identity.name);
    const hookPath = `/api/repos/${encodeURIComponent(name)}/hooks`;
    // With a forge token the forge is told of the webhook itself; failing that, the user is told how.
    const onForge = record.forge && record.forgeToken && body.create_webhook
      ? await createForgeWebhook({ kind: record.forge.kind, apiUrl: record.forge.apiUrl, project: record.forge.project, token: record.forgeToken }, `${deps.publicUrl().replace(/\/+$/, '')}${hookPath}`, webhookSecret)
      : undefined;
    if (onForge && !onForge.created) req.log.warn({ repo: name, err: onForge.error }, 'could not add the webhook on the forge');
    deps.onRepoChanged?.();
    // The secret is shown this once: the forge needs it, and it is stored sealed.
    const forgeHook = onForge ? { on_forge: onForge.created ? { created: true, id: onForge.id } : { created: false, error: onForge.error, hint: 'Add the webhook on the forge by hand with this URL and secret (push, tag and pull request events), or give a token that may manage webhooks.' } } : {};
    return reply.code(201).send({ ...publicRepo((await repos.get(name))!), webhook: { path: hookPath, secret: webhookSecret, ...forgeHook } });
  });

  app.get('/api/repos', { config: auth, schema: doc('List repositories (those the user may read)') }, async (req) => {
    const visible = await readableRepos(req, deps.members);
    return { repos: (await repos.list()).filter((r) => !visible || visible.has(r.name)).map(publicRepo) };
  });

  // Members: who may read, write (run, cancel, restart, approve) or maintain a repository.
  const memberBody = z.strictObject({ user: z.string().min(1).max(100), role: z.enum(ROLES) });
  app.get<{ Params: { repo: string } }>('/api/repos/:repo/members', { config: { ...auth, role: 'read' }, schema: doc('Who may do what on a repository') }, async (req) => {
    const repo = await findRepo(req.params.repo);
    return { members: (await deps.members.list(repo.name)).map((m) => ({ user: m.user, role: m.role, granted_by: m.grantedBy, granted_at: new Date(m.grantedAt).toISOString() })) };
  });
  app.put<{ Params: { repo: string } }>('/api/repos/:repo/members', { config: { ...auth, role: 'maintain' }, schema: doc('Give a user a role on a repository (read, write, maintain)', memberBody) }, async (req) => {
    const body = parse(memberBody, req.body);
    const repo = await findRepo(req.params.repo);
    await deps.members.grant(repo.name, body.user, body.role, req.identity!.name);
    req.log.info({ repo: repo.name, user: body.user, role: body.role, by: req.identity?.name }, 'member role set');
    return { user: body.user, role: body.role };
  });
  app.delete<{ Params: { repo: string; user: string } }>('/api/repos/:repo/members/:user', { config: { ...auth, role: 'maintain' }, schema: doc('Take a user\'s role on a repository away') }, async (req, reply) => {
    const repo = await findRepo(req.params.repo);
    if (!(await deps.members.revoke(repo.name, req.params.user))) throw new NestorError('NESTOR_MEMBER_NOT_FOUND', `${req.params.user} has no role on ${repo.name}`, `\`nestor repos members list ${repo.name}\` shows who has.`);
    return reply.code(204).send();
  });
  app.get<{ Params: { repo: string } }>('/api/repos/:repo', { config: { ...auth, role: 'read' }, schema: doc('A repository') }, async (req) => publicRepo(await findRepo(req.params.repo)));

  app.patch<{ Params: { repo: string } }>('/api/repos/:repo', { config: { ...auth, role: 'maintain' }, schema: doc('Change a repository\'s settings', updateRepoBody) }, async (req) => {
    const body = parse(updateRepoBody, req.body);
    const repo = await findRepo(req.params.repo);
    if (body.trusted !== undefined && body.trusted !== repo.trusted) requireAdmin(req, 'change whether a repository is trusted', 'Ask the server\'s admin.');
    const secret = body.rotate_webhook_secret ? randomBytes(24).toString('base64url') : undefined;
    const updated = await repos.update(repo.name, {
      ...(body.default_branch !== undefined ? { defaultBranch: body.default_branch } : {}),
      ...(body.config_path !== undefined ? { configPath: body.config_path } : {}),
      ...(body.trusted !== undefined ? { trusted: body.trusted } : {}),
      ...(body.timeout_s !== undefined ? { timeoutS: body.timeout_s } : {}),
      ...(body.poll_interval_s !== undefined ? { pollIntervalS: body.poll_interval_s } : {}),
      ...(body.auto_cancel !== undefined ? { autoCancel: body.auto_cancel } : {}),
      ...(body.forge !== undefined ? { forge: body.forge ? { kind: body.forge.kind === 'forgejo' ? 'gitea' : body.forge.kind, apiUrl: body.forge.api_url.replace(/\/+$/, ''), project: body.forge.project ?? repo.name } : null, ...(body.forge?.token !== undefined || body.forge === null ? { forgeToken: body.forge?.token ?? null } : {}) } : {}),
      ...(secret ? { webhookSecret: secret } : {}),
    });
    req.log.info({ repo: repo.name, by: req.identity?.name, changed: Object.keys(body) }, 'repository changed');
    deps.onRepoChanged?.();
    return { ...publicRepo(updated!), ...(secret ? { webhook: { path: `/api/repos/${encodeURIComponent(repo.name)}/hooks`, secret } } : {}) };
  });

  app.delete<{ Params: { repo: string } }>('/api/repos/:repo', { config: { ...auth, role: 'maintain' }, schema: doc('Remove a repository (its pipelines stay in the history)') }, async (req, reply) => {
    const repo = await findRepo(req.params.repo);
    await repos.remove(repo.name);
    await deps.crons.removeRepo(repo.name);
    req.log.info({ repo: repo.name, by: req.identity?.name }, 'repository removed');
    return reply.code(204).send();
  });

  // Pipelines, newest first, with a cursor (`before`: the id of the last one of the page before).
  const listQuery = z.strictObject({
    repo: REPO_NAME.optional(),
    branch: z.string().max(255).optional(),
    event: z.enum(['push', 'tag', 'pull_request', 'cron', 'manual']).optional(),
    status: z.enum(['waiting', 'queued', 'running', 'succeeded', 'failed', 'cancelled', 'skipped']).optional(),
    since: z.iso.datetime({ offset: true }).optional(),
    before: z.uuid().optional(),
    limit: z.coerce.number().int().min(1).max(200).default(50),
  });
  const listPipelines = async (req: FastifyRequest, repo?: string, jobs = false) => {
    const q = parse(listQuery, req.query);
    const visible = repo ? undefined : await readableRepos(req, deps.members);
    const cursor = q.before ? await store.job(q.before) : undefined;
    const page = await store.pipelines({
      ...(repo ?? q.repo ? { repo: repo ?? q.repo } : {}),
      ...(q.branch ? { branch: q.branch } : {}),
      ...(q.event ? { event: q.event } : {}),
      ...(q.status ? { status: q.status as JobStatus } : {}),
      ...(q.since ? { since: Date.parse(q.since) } : {}),
      ...(cursor ? { before: { createdAt: cursor.createdAt, id: cursor.id } } : {}),
      limit: q.limit,
      jobs,
      ...(visible ? { visible: [...visible] } : {}),
    });
    const next = page.length === q.limit ? page.at(-1)!.id : null;
    if (!jobs) return { pipelines: page.map((p) => publicPipeline(p)), next };
    const runners = await store.runners();
    return {
      jobs: page.map((j) => {
        const why = queuedReason(j, runners, Date.now(), deps.offlineMs);
        return { ...publicJob(j), repo: j.repo, number: j.number, ...(why ? { waiting_reason: why } : {}) };
      }),
      next,
    };
  };
  app.get('/api/jobs', { config: auth, schema: doc('List jobs, on their own and of pipelines (filters: repo, branch, event, status, since; cursor: before)') }, async (req) => listPipelines(req, undefined, true));
  app.get('/api/pipelines', { config: auth, schema: doc('List pipelines of every repository (filters: repo, branch, event, status, since; cursor: before)') }, async (req) => listPipelines(req));
  app.get<{ Params: { repo: string } }>('/api/repos/:repo/pipelines', { config: { ...auth, role: 'read' }, schema: doc('List a repository\'s pipelines') }, async (req) => {
    const repo = await findRepo(req.params.repo);
    return listPipelines(req, repo.name);
  });
  const numbered = async (params: { repo: string; number: string }) => {
    const number = Number(params.number);
    const p = Number.isInteger(number) ? await store.pipelineNumbered(params.repo, number) : undefined;
    if (!p) throw new NestorError('NESTOR_PIPELINE_NUMBER_NOT_FOUND', `No pipeline #${params.number} in ${params.repo}`, '`nestor pipelines list --repo NAME` lists them.');
    return p;
  };
  app.get<{ Params: { repo: string; number: string } }>('/api/repos/:repo/pipelines/:number', { config: { ...auth, role: 'read' }, schema: doc('A repository\'s pipeline by its number, with its jobs') }, async (req) => {
    const p = await numbered(req.params);
    const runners = await store.runners();
    return publicPipeline(p, await store.pipelineJobs(p.id), (j) => queuedReason(j, runners, Date.now(), deps.offlineMs));
  });
  /** Up to a day: a held step keeps its runner's slot and engine. */
  const holdOnFailure = z.number().int().min(1).max(86_400).optional();
  const restartBody = z.strictObject({ failed_only: z.boolean().default(false), hold_on_failure_s: holdOnFailure });
  app.post<{ Params: { repo: string; number: string } }>('/api/repos/:repo/pipelines/:number/restart', { config: { ...auth, role: 'write' }, schema: doc('Run a pipeline again as a new one (its commit; with failed_only, only the jobs that did not succeed and those after them); the old one is kept', restartBody) }, async (req, reply) => {
    const body = parse(restartBody, req.body ?? {});
    const p = await numbered(req.params);
    const repo = await findRepo(req.params.repo);
    const jobs = await store.pipelineJobs(p.id);
    if (body.failed_only && ['running', 'waiting'].includes(p.status)) {
      throw new NestorError('NESTOR_PIPELINE_STILL_RUNNING', `Pipeline #${p.number} of ${p.repo} is ${p.status}: which of its jobs failed is not known yet`, 'Wait for it to end, or cancel it (`nestor pipelines cancel`) and restart it whole.');
    }
    const carried = body.failed_only ? Object.fromEntries(jobs.filter((j) => j.status === 'succeeded' && j.spec.job).map((j) => [j.spec.job!, { result: j.result, runner: j.runner, startedAt: j.startedAt, finishedAt: j.finishedAt }])) : undefined;
    const { holdOnFailureS: _held, ...was } = p.trigger!;
    const trigger: PipelineTrigger = { ...was, cause: 'restart', restartOf: p.number!, author: req.identity?.name ?? p.trigger!.author, ...(body.hold_on_failure_s ? { holdOnFailureS: body.hold_on_failure_s } : {}) };
    const started = await deps.pipelines.start(repo, trigger, { pipelineId: p.id, commit: p.spec.repo?.commit ?? p.trigger!.commit, ...(carried ? { carried } : {}) });
    if (!started.created) return reply.code(200).send({ created: false, reason: started.reason });
    req.log.info({ repo: repo.name, number: started.number, of: p.number, failedOnly: body.failed_only, by: req.identity?.name }, 'pipeline restarted');
    deps.onPipeline(started.id);
    return reply.code(201).send(publicPipeline((await store.job(started.id))!, await store.pipelineJobs(started.id)));
  });
  app.post<{ Params: { repo: string; number: string; job: string } }>('/api/repos/:repo/pipelines/:number/jobs/:job/play', { config: { ...auth, role: 'write' }, schema: doc('Start a manual job of a pipeline (GitLab\'s when: manual)') }, async (req) => {
    const p = await numbered(req.params);
    const jobs = await store.pipelineJobs(p.id);
    const job = jobs.find((j) => j.spec.job === req.params.job);
    if (!job || !job.spec.manual) {
      const manual = jobs.filter((j) => j.spec.manual).map((j) => j.spec.job);
      throw new NestorError('NESTOR_JOB_NOT_MANUAL', `Pipeline #${p.number} of ${p.repo} has no manual job ${req.params.job}`, manual.length ? `Its manual jobs: ${manual.join(', ')}.` : 'Only a job its file marks when: manual is started by hand.');
    }
    if (!(await store.playJob(p.id, req.params.job, req.identity!.name))) throw new NestorError('NESTOR_JOB_RUNNING', `Job ${req.params.job} of #${p.number} is ${job.status}`, 'Wait for it to end; a manual job is started again once it has.');
    req.log.info({ repo: p.repo, number: p.number, job: req.params.job, by: req.identity?.name }, 'manual job started');
    deps.onPipeline(p.id);
    return publicPipeline((await store.job(p.id))!, await store.pipelineJobs(p.id));
  });
  app.post<{ Params: { repo: string; number: string } }>('/api/repos/:repo/pipelines/:number/approve', { config: { ...auth, role: 'write' }, schema: doc('Let a pipeline held for approval run (a pull request from a fork: read its changes first)') }, async (req) => {
    const p = await numbered(req.params);
    if (!(await store.approvePipeline(p.id, req.identity!.name))) {
      throw new NestorError('NESTOR_PIPELINE_NOT_HELD', `Pipeline #${p.number} of ${p.repo} is not waiting for approval (it is ${p.status})`, 'Only a pipeline that says waiting_for: approval is approved; restart an ended one with `nestor pipelines restart`.');
    }
    req.log.info({ repo: p.repo, number: p.number, by: req.identity?.name }, 'pipeline approved');
    deps.onPipeline(p.id);
    return publicPipeline((await store.job(p.id))!, await store.pipelineJobs(p.id));
  });

  // A README's badge carries no token: it shows one word of the latest ended pipeline, and an
  // unknown repository gets an "unknown" badge, not a 404, so nothing is learnt from it.
  app.get<{ Params: { repo: string }; Querystring: { branch?: string } }>('/api/repos/:repo/badge.svg', { schema: { summary: 'A status badge of a branch (default: the default branch); no token', tags, security: [] } }, async (req, reply) => {
    const repo = await repos.get(req.params.repo);
    const branch = req.query.branch ?? repo?.defaultBranch;
    const latest = repo && branch ? (await store.pipelines({ repo: repo.name, branch, limit: 50 })).find((p) => ['succeeded', 'failed', 'cancelled'].includes(p.status) && p.trigger?.event !== 'pull_request') : undefined;
    return reply.type('image/svg+xml').header('cache-control', 'no-cache, max-age=0').send(badgeSvg('nestor', latest?.status ?? 'unknown'));
  });

  app.post<{ Params: { repo: string } }>('/api/repos/:repo/poll', { config: { ...auth, role: 'write' }, schema: doc('Poll a repository\'s refs now (one polled for want of a webhook)') }, async (req, reply) => {
    const repo = await findRepo(req.params.repo);
    if (!(await repos.pollSoon(repo.name))) throw new NestorError('NESTOR_REPO_NOT_POLLED', `${repo.name} is not polled`, 'Turn polling on with `nestor repos update NAME --poll 60`, or let its webhook tell the server.');
    deps.onRepoChanged?.();
    return reply.code(202).send({ polling: repo.name });
  });

  // Cron schedules: a branch's pipeline at set times (UTC), with the event `cron` and the schedule's name.
  const cronBody = z.strictObject({ name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'letters, digits, ".", "_" and "-"'), cron: z.string().min(1).max(200), branch: z.string().min(1).max(255).optional() });
  const publicCron = (c: CronRecord) => ({ name: c.name, cron: c.expr, branch: c.branch, source: c.source, next_run_at: new Date(c.nextRunAt).toISOString(), last_run_at: c.lastRunAt ? new Date(c.lastRunAt).toISOString() : null });
  app.post<{ Params: { repo: string } }>('/api/repos/:repo/crons', { config: { ...auth, role: 'maintain' }, schema: doc('Add (or replace) a cron schedule: a branch\'s pipeline at set times, UTC', cronBody) }, async (req, reply) => {
    const body = parse(cronBody, req.body);
    const repo = await findRepo(req.params.repo);
    const c = await deps.crons.put({ repo: repo.name, name: body.name, expr: body.cron, branch: body.branch ?? repo.defaultBranch, source: 'api' }, deps.now());
    req.log.info({ repo: repo.name, cron: c.name, by: req.identity?.name }, 'cron schedule set');
    deps.onCronsChanged?.();
    return reply.code(201).send(publicCron(c));
  });
  app.get<{ Params: { repo: string } }>('/api/repos/:repo/crons', { config: { ...auth, role: 'read' }, schema: doc('A repository\'s cron schedules (its own, and those its files declare)') }, async (req) => {
    const repo = await findRepo(req.params.repo);
    return { crons: (await deps.crons.list(repo.name)).map(publicCron) };
  });
  app.delete<{ Params: { repo: string; name: string } }>('/api/repos/:repo/crons/:name', { config: { ...auth, role: 'maintain' }, schema: doc('Remove a cron schedule') }, async (req, reply) => {
    const repo = await findRepo(req.params.repo);
    if (!(await deps.crons.remove(repo.name, req.params.name))) throw new NestorError('NESTOR_CRON_NOT_FOUND', `${repo.name} has no cron schedule ${req.params.name}`, '`nestor repos crons NAME` lists them.');
    deps.onCronsChanged?.();
    return reply.code(204).send();
  });

  // A manual run of a branch (or a commit of it), as the user asks for it.
  const runBody = z.strictObject({ branch: z.string().min(1).max(255).optional(), commit: z.string().regex(/^[0-9a-f]{40,64}$/).optional(), variables: z.record(z.string(), z.string()).default({}), hold_on_failure_s: holdOnFailure });
  app.post<{ Params: { repo: string } }>('/api/repos/:repo/pipelines', { config: { ...auth, role: 'write' }, schema: doc('Run a branch\'s pipeline now (manual)', runBody) }, async (req, reply) => {
    const body = parse(runBody, req.body);
    const repo = await findRepo(req.params.repo);
    const branch = body.branch ?? repo.defaultBranch;
    const trigger: PipelineTrigger = { event: 'manual', ref: `refs/heads/${branch}`, branch, commit: body.commit ?? '', message: '', author: req.identity?.name ?? '', cause: 'manual', ...(Object.keys(body.variables).length ? { variables: body.variables } : {}), ...(body.hold_on_failure_s ? { holdOnFailureS: body.hold_on_failure_s } : {}) };
    const started = await deps.pipelines.start(repo, trigger);
    if (!started.created) return reply.code(200).send({ created: false, reason: started.reason });
    deps.onPipeline(started.id);
    return reply.code(201).send(publicPipeline((await store.job(started.id))!, await store.pipelineJobs(started.id)));
  });

  // Webhooks: no token, the forge's own signature with the repository's secret. The raw body is
  // what is signed, so it is read as bytes.
  await app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    scope.post<{ Params: { repo: string } }>('/api/repos/:repo/hooks', { schema: { summary: 'Webhook from GitHub, GitLab, Gitea or Forgejo (signed with the repository\'s secret; no token)', tags, security: [] } }, async (req, reply) => {
      const answer = await webhook(req);
      return reply.code(answer.status).send(answer.body);
    });
  });

  const webhook = async (req: FastifyRequest<{ Params: { repo: string } }>): Promise<{ status: number; body: Record<string, unknown> }> => {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.from(typeof req.body === 'string' ? req.body : '');
    const provider = forgeOf(req.headers);
    if (!provider) throw new NestorError('NESTOR_WEBHOOK_UNKNOWN', 'The request is not from GitHub, GitLab, Gitea or Forgejo (none of their event headers is set)', 'Point the forge\'s webhook at this URL, with the secret `nestor repos add` showed.');
    const repo = await repos.get(req.params.repo);
    // One answer whether or not the repository is known: an unsigned caller learns nothing.
    if (!repo || !verifySignature(provider, req.headers, raw, repo.webhookSecret)) {
      req.log.warn({ provider, repo: req.params.repo, from: req.ip, known: repo !== undefined }, 'webhook refused: not signed with the repository\'s secret');
      throw new WebhookRefused(signatureHeader(provider));
    }
    let payload: unknown;
    try {
      const text = raw.toString('utf8');
      payload = text.startsWith('payload=') ? JSON.parse(new URLSearchParams(text).get('payload') ?? '{}') : JSON.parse(text || '{}');
    } catch {
      throw new NestorError('NESTOR_WEBHOOK_BODY', 'The webhook body is not JSON', 'Set the webhook\'s content type to application/json.');
    }
    // Only signed deliveries are remembered: an unsigned one must not claim an id for later.
    if (!(await deps.deliveries.claim(deliveryKeys(provider, req.headers, raw).map((k) => `repo:${repo.name}:${k}`)))) {
      req.log.info({ provider, repo: repo.name }, 'webhook already processed; nothing run again');
      return { status: 200, body: { result: 'already processed' } };
    }
    const parsed = parseTrigger(provider, req.headers, payload);
    if (parsed.kind === 'ignored') return { status: 200, body: { result: 'ignored', reason: parsed.reason } };
    const t = parsed.trigger;
    const skip = skipReason(t);
    if (skip) {
      req.log.info({ repo: repo.name, ref: t.ref, commit: t.commit.slice(0, 12) }, `push not run: ${skip}`);
      return { status: 200, body: { result: 'skipped', reason: skip } };
    }
    const trigger: PipelineTrigger = {
      event: t.event,
      ref: t.ref,
      ...(t.branch ? { branch: t.branch } : {}),
      ...(t.tag ? { tag: t.tag } : {}),
      commit: t.commit,
      ...(t.before ? { before: t.before } : {}),
      message: t.message,
      author: t.author,
      cause: 'webhook',
      ...(t.pullRequest ? { pullRequest: { number: t.pullRequest.number, title: t.pullRequest.title, sourceBranch: t.pullRequest.sourceBranch, targetBranch: t.pullRequest.targetBranch, fromFork: t.pullRequest.fromFork } } : {}),
    };
    // Forges give up on a webhook after about 10 s: a slow first fetch goes on after the answer.
    const starting = deps.pipelines.start(repo, trigger).then((s) => {
      if (s.created) deps.onPipeline(s.id);
      return s;
    });
    starting.catch((err: unknown) => req.log.error({ err, repo: repo.name, ref: t.ref }, 'could not make the pipeline of a webhook'));
    const within = await Promise.race([starting, new Promise<undefined>((r) => setTimeout(() => r(undefined), deps.webhookAnswerMs ?? 8000).unref())]);
    if (!within) return { status: 202, body: { result: 'accepted' } };
    return answerOf(within);
  };
}

function answerOf(s: Started): { status: number; body: Record<string, unknown> } {
  return s.created ? { status: 201, body: { result: 'created', pipeline: s.id, number: s.number, jobs: s.jobs } } : { status: 200, body: { result: 'no pipeline', reason: s.reason } };
}
