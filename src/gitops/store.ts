import type { FunctionSettings } from '../functions/gateway.ts';
import type { DockerfileUsed } from './dockerfile.ts';
import type { GitCredential } from './repo-url.ts';
import type { SecretBox } from '../secrets/secret-box.ts';
import type { Database, Row } from '../store/database.ts';

export type DeploymentStatus = 'syncing' | 'built' | 'deployed' | 'failed';
export type DeploymentCause = 'poll' | 'webhook' | 'manual' | 'rollback';

export interface AppRecord {
  namespace: string;
  name: string;
  /** Without credentials: they are `repoCredential`, sealed in the store. */
  repoUrl: string;
  repoCredential: GitCredential | null;
  branch: string;
  path: string;
  webhookSecret: string | null;
  pollIntervalS: number;
  autoSync: boolean;
  /** Docker host the functions run on (ssh:// or tcp:// with TLS); null: this server's engine. */
  target: string | null;
  lastCommit: string | null;
  currentDeployment: number | null;
  lastError: string | null;
  failures: number;
  nextPollAt: number;
  createdAt: number;
}

/** What a deployment runs for one function: the image and the settings it was built with. */
export interface DeployedFunction {
  path: string;
  image: string;
  spec: FunctionSettings;
  /** How long `docker build` took, to tell build time from Nestor's own overhead. */
  buildMs?: number;
  /**
   * The Dockerfile built, and whether it was found relative to the context or to the source
   * path. Kept in the functions JSON (no column): it is per function, and records made before
   * it existed simply lack it.
   */
  dockerfile?: DockerfileUsed;
}

export interface Deployment {
  namespace: string;
  app: string;
  seq: number;
  commit: string;
  message: string;
  cause: DeploymentCause;
  status: DeploymentStatus;
  functions: DeployedFunction[];
  rollbackOf: number | null;
  error: string | null;
  createdAt: number;
  finishedAt: number | null;
}

export interface InvocationRecord {
  id: string;
  namespace: string;
  functionPath: string;
  status: number;
  startKind: 'cold' | 'warm';
  durationMs: number;
  stderr: string;
  time: number;
}

const n = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

/** Where each sealed value is kept: a value opens only in its own row and column. */
export const secretContext = {
  webhook: (namespace: string, name: string) => `app-webhook:${namespace}/${name}`,
  repo: (namespace: string, name: string) => `app-repo:${namespace}/${name}`,
  registry: (registry: string) => `registry:${registry}`,
};

function toApp(r: Row, box: SecretBox): AppRecord {
  const namespace = String(r.namespace);
  const name = String(r.name);
  const credential = box.revealOrNull(r.repo_credential as string | null, secretContext.repo(namespace, name));
  return {
    namespace,
    name,
    repoUrl: String(r.repo_url),
    repoCredential: credential === null ? null : (JSON.parse(credential) as GitCredential),
    branch: String(r.branch),
    path: String(r.path),
    webhookSecret: box.revealOrNull(r.webhook_secret as string | null, secretContext.webhook(namespace, name)),
    pollIntervalS: Number(r.poll_interval_s),
    autoSync: Number(r.auto_sync) === 1,
    target: (r.target as string | null) ?? null,
    lastCommit: (r.last_commit as string | null) ?? null,
    currentDeployment: n(r.current_deployment),
    lastError: (r.last_error as string | null) ?? null,
    failures: Number(r.failures),
    nextPollAt: Number(r.next_poll_at),
    createdAt: Number(r.created_at),
  };
}

function toDeployment(r: Row): Deployment {
  return {
    namespace: String(r.namespace),
    app: String(r.app),
    seq: Number(r.seq),
    commit: String(r.commit_sha),
    message: String(r.message),
    cause: r.cause as DeploymentCause,
    status: r.status as DeploymentStatus,
    functions: JSON.parse(String(r.functions)) as DeployedFunction[],
    rollbackOf: n(r.rollback_of),
    error: (r.error as string | null) ?? null,
    createdAt: Number(r.created_at),
    finishedAt: n(r.finished_at),
  };
}

const DEPLOYMENT_COLUMNS = 'namespace, app, seq, commit_sha, message, cause, status, functions, rollback_of, error, created_at, finished_at';
/** Invocation records kept per function; older ones are dropped as new ones come. */
export const INVOCATIONS_KEPT = 1000;

/**
 * GitOps state in the server's store: applications, every deployment (never trimmed), the
 * images each function has had (for retention), registry credentials and invocation logs.
 * Webhook secrets, repository credentials and registry secrets are sealed with `box`.
 */
export class GitopsStore {
  private readonly db: Database;
  private readonly box: SecretBox;
  private inserted = 0;

  constructor(db: Database, box: SecretBox) {
    this.db = db;
    this.box = box;
  }

  async addApp(app: Omit<AppRecord, 'lastCommit' | 'currentDeployment' | 'lastError' | 'failures' | 'createdAt'>): Promise<boolean> {
    const rows = await this.db.query(
      `INSERT INTO apps (namespace, name, repo_url, repo_credential, branch, path, webhook_secret, poll_interval_s, auto_sync, target, failures, next_poll_at, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, $11, $12) ON CONFLICT (namespace, name) DO NOTHING RETURNING name`,
      [
        app.namespace,
        app.name,
        app.repoUrl,
        app.repoCredential ? this.box.seal(JSON.stringify(app.repoCredential), secretContext.repo(app.namespace, app.name)) : null,
        app.branch,
        app.path,
        this.box.sealOrNull(app.webhookSecret, secretContext.webhook(app.namespace, app.name)),
        app.pollIntervalS,
        app.autoSync ? 1 : 0,
        app.target,
        app.nextPollAt,
        Date.now(),
      ],
    );
    return rows.length === 1;
  }

  async app(namespace: string, name: string): Promise<AppRecord | undefined> {
    const [r] = await this.db.query('SELECT * FROM apps WHERE namespace = $1 AND name = $2', [namespace, name]);
    return r ? toApp(r, this.box) : undefined;
  }

  async apps(): Promise<AppRecord[]> {
    return (await this.db.query('SELECT * FROM apps ORDER BY namespace, name')).map((r) => toApp(r, this.box));
  }

  /** The applications of one name, one per namespace at most. */
  async appsNamed(name: string): Promise<AppRecord[]> {
    return (await this.db.query('SELECT * FROM apps WHERE name = $1 ORDER BY namespace', [name])).map((r) => toApp(r, this.box));
  }

  async removeApp(namespace: string, name: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      const gone = await tx.query('DELETE FROM apps WHERE namespace = $1 AND name = $2 RETURNING name', [namespace, name]);
      await tx.query('DELETE FROM deployments WHERE namespace = $1 AND app = $2', [namespace, name]);
      await tx.query('DELETE FROM function_images WHERE namespace = $1 AND app = $2', [namespace, name]);
      return gone.length === 1;
    });
  }

  async setPollOutcome(namespace: string, name: string, outcome: { error: string | null; failures: number; nextPollAt: number }): Promise<void> {
    await this.db.query('UPDATE apps SET last_error = $3, failures = $4, next_poll_at = $5 WHERE namespace = $1 AND name = $2', [namespace, name, outcome.error, outcome.failures, outcome.nextPollAt]);
  }

  /** Takes the next poll of an app: true for exactly one of the servers that try at once. */
  async claimPoll(namespace: string, name: string, expectedNextPollAt: number, nextPollAt: number): Promise<boolean> {
    const rows = await this.db.query('UPDATE apps SET next_poll_at = $4 WHERE namespace = $1 AND name = $2 AND next_poll_at = $3 RETURNING name', [namespace, name, expectedNextPollAt, nextPollAt]);
    return rows.length === 1;
  }

  /**
   * Marks `commit` as the one being deployed, if the app still records `expected`: of servers
   * sharing a database, exactly one builds a given commit.
   */
  async claimCommit(namespace: string, name: string, expected: string | null, commit: string): Promise<boolean> {
    const rows = await this.db.query('UPDATE apps SET last_commit = $4 WHERE namespace = $1 AND name = $2 AND last_commit IS NOT DISTINCT FROM $3 RETURNING name', [namespace, name, expected, commit]);
    return rows.length === 1;
  }

  async setLastCommit(namespace: string, name: string, commit: string): Promise<void> {
    await this.db.query('UPDATE apps SET last_commit = $3 WHERE namespace = $1 AND name = $2', [namespace, name, commit]);
  }

  async setCurrent(namespace: string, name: string, seq: number): Promise<void> {
    await this.db.query('UPDATE apps SET current_deployment = $3 WHERE namespace = $1 AND name = $2', [namespace, name, seq]);
  }

  /** A new deployment record with the next number for its app. */
  async startDeployment(d: Pick<Deployment, 'namespace' | 'app' | 'commit' | 'message' | 'cause' | 'functions' | 'rollbackOf'> & { status?: DeploymentStatus }): Promise<Deployment> {
    return this.db.transaction(async (tx) => {
      if (tx.kind === 'postgres') await tx.query('SELECT 1 FROM apps WHERE namespace = $1 AND name = $2 FOR UPDATE', [d.namespace, d.app]);
      const [row] = await tx.query<{ s: number | null }>('SELECT MAX(seq) AS s FROM deployments WHERE namespace = $1 AND app = $2', [d.namespace, d.app]);
      const seq = Number(row?.s ?? 0) + 1;
      const [r] = await tx.query(
        `INSERT INTO deployments (namespace, app, seq, commit_sha, message, cause, status, functions, rollback_of, error, build_log, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, NULL, '', $10) RETURNING ${DEPLOYMENT_COLUMNS}`,
        [d.namespace, d.app, seq, d.commit, d.message, d.cause, d.status ?? 'syncing', JSON.stringify(d.functions), d.rollbackOf, Date.now()],
      );
      return toDeployment(r!);
    });
  }

  async appendBuildLog(namespace: string, app: string, seq: number, text: string): Promise<void> {
    await this.db.query('UPDATE deployments SET build_log = build_log || $4 WHERE namespace = $1 AND app = $2 AND seq = $3', [namespace, app, seq, text]);
  }

  async finishDeployment(namespace: string, app: string, seq: number, outcome: { status: DeploymentStatus; functions?: DeployedFunction[]; error?: string | null }): Promise<void> {
    const finished = outcome.status === 'syncing' || outcome.status === 'built' ? null : Date.now();
    if (outcome.functions) {
      await this.db.query('UPDATE deployments SET status = $4, functions = $5, error = $6, finished_at = $7 WHERE namespace = $1 AND app = $2 AND seq = $3', [namespace, app, seq, outcome.status, JSON.stringify(outcome.functions), outcome.error ?? null, finished]);
    } else {
      await this.db.query('UPDATE deployments SET status = $4, error = $5, finished_at = $6 WHERE namespace = $1 AND app = $2 AND seq = $3', [namespace, app, seq, outcome.status, outcome.error ?? null, finished]);
    }
  }

  async deployments(namespace: string, app: string): Promise<Deployment[]> {
    return (await this.db.query(`SELECT ${DEPLOYMENT_COLUMNS} FROM deployments WHERE namespace = $1 AND app = $2 ORDER BY seq DESC`, [namespace, app])).map(toDeployment);
  }

  async deployment(namespace: string, app: string, seq: number): Promise<Deployment | undefined> {
    const [r] = await this.db.query(`SELECT ${DEPLOYMENT_COLUMNS} FROM deployments WHERE namespace = $1 AND app = $2 AND seq = $3`, [namespace, app, seq]);
    return r ? toDeployment(r) : undefined;
  }

  async buildLog(namespace: string, app: string, seq: number): Promise<string | undefined> {
    const [r] = await this.db.query<{ build_log: string }>('SELECT build_log FROM deployments WHERE namespace = $1 AND app = $2 AND seq = $3', [namespace, app, seq]);
    return r?.build_log;
  }

  /**
   * Deployments left `syncing` by a server that died mid-build. With a shared database another
   * server may be building right now, so only syncs older than `olderThanMs` count as dead.
   */
  async abandonSyncing(olderThanMs: number): Promise<number> {
    const now = Date.now();
    const rows = await this.db.query("UPDATE deployments SET status = 'failed', error = 'the server stopped during this sync; run `nestor apps sync --force` to build it again', finished_at = $1 WHERE status = 'syncing' AND created_at <= $2 RETURNING seq", [now, now - olderThanMs]);
    return rows.length;
  }

  get shared(): boolean {
    return this.db.kind === 'postgres';
  }

  // Images, for retention

  async recordImage(image: string, namespace: string, app: string, functionPath: string): Promise<void> {
    await this.db.query('INSERT INTO function_images (image, namespace, app, function_path, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (image) DO NOTHING', [image, namespace, app, functionPath, Date.now()]);
  }

  /** Images of a function still kept, newest first. */
  async liveImages(namespace: string, app: string, functionPath: string): Promise<string[]> {
    const rows = await this.db.query<{ image: string }>('SELECT image FROM function_images WHERE namespace = $1 AND app = $2 AND function_path = $3 AND pruned_at IS NULL ORDER BY created_at DESC, image DESC', [namespace, app, functionPath]);
    return rows.map((r) => r.image);
  }

  /** Every image of an application not pruned yet, for removal with the application. */
  async appImages(namespace: string, app: string): Promise<string[]> {
    const rows = await this.db.query<{ image: string }>('SELECT image FROM function_images WHERE namespace = $1 AND app = $2 AND pruned_at IS NULL', [namespace, app]);
    return rows.map((r) => r.image);
  }

  async isPruned(image: string): Promise<boolean> {
    const [r] = await this.db.query('SELECT pruned_at FROM function_images WHERE image = $1', [image]);
    return r !== undefined && r.pruned_at !== null;
  }

  async markPruned(image: string): Promise<void> {
    await this.db.query('UPDATE function_images SET pruned_at = $2 WHERE image = $1', [image, Date.now()]);
  }

  // Registry credentials: the secret is only ever read to talk to the registry.

  async setCredential(registry: string, username: string, secret: string): Promise<void> {
    await this.db.query(
      'INSERT INTO registry_credentials (registry, username, secret, updated_at) VALUES ($1, $2, $3, $4) ON CONFLICT (registry) DO UPDATE SET username = $2, secret = $3, updated_at = $4',
      [registry, username, this.box.seal(secret, secretContext.registry(registry)), Date.now()],
    );
  }

  async credential(registry: string): Promise<{ username: string; secret: string } | undefined> {
    const [r] = await this.db.query<{ username: string; secret: string }>('SELECT username, secret FROM registry_credentials WHERE registry = $1', [registry]);
    return r ? { username: r.username, secret: this.box.reveal(r.secret, secretContext.registry(registry)) } : undefined;
  }

  async credentials(): Promise<{ registry: string; username: string; secret: string }[]> {
    const rows = await this.db.query<{ registry: string; username: string; secret: string }>('SELECT registry, username, secret FROM registry_credentials');
    return rows.map((r) => ({ registry: r.registry, username: r.username, secret: this.box.reveal(r.secret, secretContext.registry(r.registry)) }));
  }

  async registries(): Promise<{ registry: string; username: string; updatedAt: number }[]> {
    const rows = await this.db.query('SELECT registry, username, updated_at FROM registry_credentials ORDER BY registry');
    return rows.map((r) => ({ registry: String(r.registry), username: String(r.username), updatedAt: Number(r.updated_at) }));
  }

  async removeCredential(registry: string): Promise<boolean> {
    return (await this.db.query('DELETE FROM registry_credentials WHERE registry = $1 RETURNING registry', [registry])).length === 1;
  }

  // Invocation log

  async recordInvocation(rec: InvocationRecord): Promise<void> {
    await this.db.query('INSERT INTO invocations (id, namespace, function_path, status, start_kind, duration_ms, stderr, time) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)', [rec.id, rec.namespace, rec.functionPath, rec.status, rec.startKind, rec.durationMs, rec.stderr, rec.time]);
    // Trim now and then rather than on every call: the log is for reading recent calls.
    if (++this.inserted % 200 === 0) await this.trimInvocations(rec.namespace, rec.functionPath);
  }

  async trimInvocations(namespace: string, functionPath: string): Promise<void> {
    const [edge] = await this.db.query<{ time: number }>('SELECT time FROM invocations WHERE namespace = $1 AND function_path = $2 ORDER BY time DESC LIMIT 1 OFFSET $3', [namespace, functionPath, INVOCATIONS_KEPT]);
    if (edge) await this.db.query('DELETE FROM invocations WHERE namespace = $1 AND function_path = $2 AND time <= $3', [namespace, functionPath, edge.time]);
  }

  async invocations(namespace: string, functionPath: string, limit = 50): Promise<InvocationRecord[]> {
    const rows = await this.db.query('SELECT * FROM invocations WHERE namespace = $1 AND function_path = $2 ORDER BY time DESC LIMIT $3', [namespace, functionPath, limit]);
    return rows.map((r) => ({
      id: String(r.id),
      namespace: String(r.namespace),
      functionPath: String(r.function_path),
      status: Number(r.status),
      startKind: r.start_kind as 'cold' | 'warm',
      durationMs: Number(r.duration_ms),
      stderr: String(r.stderr),
      time: Number(r.time),
    }));
  }
}
