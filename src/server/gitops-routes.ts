import type { FastifyInstance, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { MANIFEST_FILE, parseManifest } from '../gitops/manifest.ts';
import { deliveryKeys, normaliseRepoUrl, parseEvent, providerOf, signatureHeader, verifySignature, type Provider } from '../gitops/webhook.ts';
import { redactUrls } from '../secrets/redact.ts';
import { registerFunctionRoutes } from './function-routes.ts';
import { NestorError } from '../errors.ts';
import { parseBody as parse } from './problem.ts';
import { jsonSchema } from './schemas.ts';
import type { GitopsParts } from '../gitops/service.ts';
import type { AppRecord, Deployment } from '../gitops/store.ts';
import { parseDockerConfig } from '../secrets/docker-config.ts';

export interface GitopsRoutesDeps extends GitopsParts {
  /** Largest request body a function accepts. */
  functionBodyLimit?: number;
}

const NAME = z.string().regex(/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/, 'lower-case letters, digits and dashes');
const target = z.strictObject({ host: z.string().min(1), certPath: z.string().optional() });
/** For an https:// repository: kept apart from the URL and sealed, like credentials written into the URL. */
const repoCredentials = z.strictObject({ username: z.string().min(1).max(1024), password: z.string().max(8192) });
export const addAppBody = z.union([
  z.strictObject({
    manifest: z.string().min(1).max(256 * 1024),
    /** The manifest's file name, so problems point at zerverless.yaml when that is the file. */
    manifest_file: z.string().min(1).max(255).optional(),
    poll_interval_s: z.number().int().min(5).max(86_400).optional(),
    auto_sync: z.boolean().optional(),
    webhook_secret: z.string().min(8).optional(),
    repo_credentials: repoCredentials.optional(),
    target: target.optional(),
  }),
  z.strictObject({
    name: NAME,
    namespace: NAME.default('default'),
    repo_url: z.string().min(1),
    branch: z.string().min(1).default('main'),
    path: z.string().default('.'),
    poll_interval_s: z.number().int().min(5).max(86_400).optional(),
    auto_sync: z.boolean().optional(),
    webhook_secret: z.string().min(8).optional(),
    repo_credentials: repoCredentials.optional(),
    target: target.optional(),
  }),
]);
export const rollbackBody = z.strictObject({ to: z.number().int().min(1) });
export const syncBody = z.strictObject({ force: z.boolean().default(false) });
export const credentialBody = z.strictObject({ username: z.string().min(1), password: z.string().min(1) });
export const dockerConfigBody = z.strictObject({ config: z.string().min(2).max(256 * 1024) });

/** Name, namespace and source of an application, from its nestor.yaml (or zerverless.yaml). */
function manifestSource(text: string, file = MANIFEST_FILE) {
  const m = parseManifest(file, text);
  return { name: m.name, namespace: m.namespace, repoUrl: m.source.repoURL, branch: m.source.branch, path: m.source.path };
}

function publicApp(a: AppRecord) {
  return {
    name: a.name,
    namespace: a.namespace,
    // Stored without credentials; redacted again in case a row predates that.
    repo_url: redactUrls(a.repoUrl),
    repo_credentials: a.repoCredential !== null,
    branch: a.branch,
    path: a.path,
    poll_interval_s: a.pollIntervalS,
    auto_sync: a.autoSync,
    webhook_secret_set: a.webhookSecret !== null,
    target: a.target ? (JSON.parse(a.target) as { host: string }).host : 'local',
    last_commit: a.lastCommit,
    current_deployment: a.currentDeployment,
    last_error: a.lastError === null ? null : redactUrls(a.lastError),
    failures: a.failures,
    next_poll_at: new Date(a.nextPollAt).toISOString(),
  };
}

function publicDeployment(d: Deployment) {
  return {
    seq: d.seq,
    commit: d.commit,
    message: d.message,
    cause: d.cause,
    status: d.status,
    functions: d.functions.map((f) => ({
      path: f.path,
      image: f.image,
      ...(f.buildMs !== undefined ? { build_ms: f.buildMs } : {}),
      ...(f.dockerfile ? { dockerfile: f.dockerfile.path, dockerfile_base: f.dockerfile.base } : {}),
    })),
    rollback_of: d.rollbackOf,
    error: d.error === null ? null : redactUrls(d.error),
    created_at: new Date(d.createdAt).toISOString(),
    finished_at: d.finishedAt ? new Date(d.finishedAt).toISOString() : null,
  };
}

const USERS = ['admin', 'user'] as const;

/** The answer to every webhook whose signature does not check out, watched repository or not. */
function refused(provider: Provider): NestorError {
  return new NestorError('NESTOR_WEBHOOK_SIGNATURE', `The ${signatureHeader(provider)} header does not match a secret this server holds for the repository`, 'Set the same secret in the forge\'s webhook settings and in the application (webhook_secret, or NESTOR_WEBHOOK_SECRET on the server), and check that the repository URL the application watches is the one the forge sends.');
}

type AppParams = { Params: { namespace: string; name: string } };

/** /api/apps, /api/webhooks/git, /api/registries and the function gateway at /fn/NAMESPACE/PATH. */
export async function registerGitopsRoutes(app: FastifyInstance, deps: GitopsRoutesDeps): Promise<void> {
  const { controller, gateway, store } = deps;
  const auth = { auth: [...USERS] };
  const tags = ['gitops'];

  // ?name= finds an application whatever its namespace: the CLI's `apps sync NAME` asks this.
  const listQuery = { type: 'object', properties: { name: { type: 'string', description: 'only applications of this name, in any namespace' } } };
  app.get<{ Querystring: { name?: string } }>('/api/apps', { config: auth, schema: { summary: 'List applications (all, or those of one name)', tags, querystring: listQuery } }, async (req) => {
    const name = req.query.name;
    return { apps: (name ? await store.appsNamed(name) : await store.apps()).map(publicApp) };
  });

  app.post('/api/apps', { config: auth, schema: { summary: 'Add an application (a nestor.yaml, or its source)', tags, body: jsonSchema(addAppBody) } }, async (req, reply) => {
    const body = parse(addAppBody, req.body);
    const source = 'manifest' in body ? manifestSource(body.manifest, body.manifest_file) : { name: body.name, namespace: body.namespace, repoUrl: body.repo_url, branch: body.branch, path: body.path };
    const added = await controller.addApp(
      {
        ...source,
        webhookSecret: body.webhook_secret ?? null,
        target: body.target ?? null,
        ...(body.repo_credentials ? { repoCredential: body.repo_credentials } : {}),
        ...(body.poll_interval_s !== undefined ? { pollIntervalS: body.poll_interval_s } : {}),
        ...(body.auto_sync !== undefined ? { autoSync: body.auto_sync } : {}),
      },
      { admin: req.identity?.kind === 'admin' },
    );
    return reply.code(201).send(publicApp(added));
  });

  app.get<AppParams>('/api/apps/:namespace/:name', { config: auth, schema: { summary: 'An application and its deployments', tags } }, async (req) => {
    const a = await controller.app(req.params.namespace, req.params.name);
    return { ...publicApp(a), deployments: (await store.deployments(a.namespace, a.name)).map(publicDeployment) };
  });

  app.delete<AppParams>('/api/apps/:namespace/:name', { config: auth, schema: { summary: 'Remove an application and stop serving its functions', tags } }, async (req, reply) => {
    await controller.remove(req.params.namespace, req.params.name);
    return reply.code(204).send();
  });

  app.post<AppParams>('/api/apps/:namespace/:name/sync', { config: auth, schema: { summary: 'Sync now; answers when the sync is over', tags, body: jsonSchema(syncBody) } }, async (req) => {
    const outcome = await controller.sync(req.params.namespace, req.params.name, 'manual', { force: parse(syncBody, req.body).force });
    return { result: outcome.result, ...(outcome.result === 'unchanged' ? { commit: outcome.commit } : {}), ...(outcome.result === 'failed' ? { error: outcome.error } : {}), ...(outcome.deployment ? { deployment: publicDeployment(outcome.deployment) } : {}) };
  });

  app.get<AppParams>('/api/apps/:namespace/:name/deployments', { config: auth, schema: { summary: 'Every deployment, newest first', tags } }, async (req) => {
    const a = await controller.app(req.params.namespace, req.params.name);
    return { deployments: (await store.deployments(a.namespace, a.name)).map(publicDeployment) };
  });

  app.get<{ Params: { namespace: string; name: string; seq: string } }>('/api/apps/:namespace/:name/deployments/:seq', { config: auth, schema: { summary: 'One deployment with its build log', tags } }, async (req) => {
    const d = await store.deployment(req.params.namespace, req.params.name, Number(req.params.seq));
    if (!d) throw new NestorError('NESTOR_DEPLOYMENT_NOT_FOUND', `No deployment ${req.params.seq} of ${req.params.namespace}/${req.params.name}`, 'See the numbers with GET /api/apps/NAMESPACE/NAME/deployments.');
    return { ...publicDeployment(d), build_log: redactUrls((await store.buildLog(d.namespace, d.app, d.seq)) ?? '') };
  });

  app.post<AppParams>('/api/apps/:namespace/:name/rollback', { config: auth, schema: { summary: 'Serve an earlier deployment again', tags, body: jsonSchema(rollbackBody) } }, async (req) =>
    publicDeployment(await controller.rollback(req.params.namespace, req.params.name, parse(rollbackBody, req.body).to)),
  );

  // Registry credentials: stored for pushes and pulls, never answered back.
  app.get('/api/registries', { config: { auth: ['admin'] }, schema: { summary: 'Registries with credentials (names only)', tags } }, async () => ({ registries: await store.registries() }));
  app.put<{ Params: { registry: string } }>('/api/registries/:registry', { config: { auth: ['admin'] }, schema: { summary: 'Set the credentials for a registry', tags, body: jsonSchema(credentialBody) } }, async (req, reply) => {
    const body = parse(credentialBody, req.body);
    await store.setCredential(req.params.registry, body.username, body.password);
    return reply.code(204).send();
  });
  app.post('/api/registries/import', { config: { auth: ['admin'] }, schema: { summary: 'Import credentials from a Docker config.json', tags, body: jsonSchema(dockerConfigBody) } }, async (req) => {
    const entries = parseDockerConfig(parse(dockerConfigBody, req.body).config);
    for (const e of entries) await store.setCredential(e.registry, e.username, e.secret);
    return { imported: entries.map((e) => e.registry) };
  });
  app.delete<{ Params: { registry: string } }>('/api/registries/:registry', { config: { auth: ['admin'] }, schema: { summary: 'Forget a registry\'s credentials', tags } }, async (req, reply) => {
    if (!(await store.removeCredential(req.params.registry))) throw new NestorError('NESTOR_REGISTRY_NOT_FOUND', `No credentials for ${req.params.registry}`, 'List them with GET /api/registries.');
    return reply.code(204).send();
  });

  app.get('/api/functions', { config: auth, schema: { summary: 'Functions served now', tags } }, async () => ({ functions: gateway.list() }));
  app.get<{ Params: { namespace: string; '*': string } }>('/api/functions/:namespace/*', { config: auth, schema: { summary: 'Recent invocations of a function (status, cold or warm, stderr)', tags } }, async (req) => ({
    invocations: await store.invocations(req.params.namespace, req.params['*'].replace(/\/invocations$/, '')),
  }));

  await app.register(async (scope) => {
    // The signature covers the exact bytes sent, so the body is kept raw and parsed here.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
    scope.post('/api/webhooks/git', { schema: { summary: 'Push webhook from GitHub, GitLab or Gitea (signed; no token)', tags, security: [] } }, async (req, reply) => webhook(req, reply.code.bind(reply)));
  });

  const webhook = async (req: FastifyRequest, code: (n: number) => unknown) => {
    const raw = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const provider = providerOf(req.headers);
    if (!provider) throw new NestorError('NESTOR_WEBHOOK_UNKNOWN', 'The request is not from GitHub, GitLab or Gitea (none of their event headers is set)', 'Point a push webhook of your forge at /api/webhooks/git, with a secret.');
    let payload: unknown;
    try {
      const text = raw.toString('utf8');
      payload = text.startsWith('payload=') ? JSON.parse(new URLSearchParams(text).get('payload') ?? '{}') : JSON.parse(text || '{}');
    } catch {
      throw new NestorError('NESTOR_WEBHOOK_BODY', 'The webhook body is not JSON', 'Set the webhook\'s content type to application/json.');
    }
    const event = parseEvent(provider, req.headers, payload);
    const candidates = (await store.apps()).filter((a) => event.repoUrls.includes(normaliseRepoUrl(a.repoUrl)));
    const verified = candidates.filter((a) => {
      const secret = a.webhookSecret ?? deps.webhookSecret;
      return secret !== undefined && verifySignature(provider, req.headers, raw, secret);
    });
    // A repository nobody watches can only be signed with the server's own secret.
    const signedForServer = !candidates.length && deps.webhookSecret !== undefined && verifySignature(provider, req.headers, raw, deps.webhookSecret);
    if (!verified.length && !signedForServer) {
      // One answer whether or not the repository is watched: an unsigned caller learns nothing.
      req.log.warn({ provider, repos: event.repoUrls, from: req.ip, watched: candidates.length > 0 }, candidates.length ? 'webhook refused: its signature matches no application watching the repository' : 'webhook refused: no application watches the repository, and it is not signed with the server\'s secret');
      throw refused(provider);
    }
    // Only signed deliveries are remembered: an unsigned one must not claim an id for later.
    if (!(await deps.deliveries.claim(deliveryKeys(provider, req.headers, raw)))) {
      req.log.info({ provider, repos: event.repoUrls, from: req.ip }, 'webhook already processed; nothing run again');
      code(200);
      return { event: event.event, result: 'already processed', synced: [] };
    }
    const isPush = event.event === 'push' || event.event === 'Push Hook';
    const matching = verified.filter((a) => isPush && event.branch === a.branch);
    for (const a of matching) void controller.sync(a.namespace, a.name, 'webhook').catch(() => undefined);
    code(202);
    return { event: event.event, result: 'accepted', synced: matching.map((a) => `${a.namespace}/${a.name}`) };
  };

  await registerFunctionRoutes(app, gateway, { prefix: '/fn', ...(deps.functionBodyLimit ? { bodyLimit: deps.functionBodyLimit } : {}) });
}
