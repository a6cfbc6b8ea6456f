import type { GitCredential } from '../gitops/repo-url.ts';
import type { SecretBox } from '../secrets/secret-box.ts';
import type { Database, Row } from '../store/database.ts';

export type ForgeKind = 'github' | 'gitlab' | 'gitea';

/** Where a repository's commit statuses (and its webhook) go: the forge's API and the project there. */
export interface ForgeSettings {
  kind: ForgeKind;
  /** https://api.github.com, https://gitlab.example.com/api/v4, https://gitea.example.com/api/v1 */
  apiUrl: string;
  /** owner/name as the forge names it (GitLab: the full path with groups). */
  project: string;
}

/** A repository whose own pipeline files run on each push, tag and pull request. */
export interface RepoRecord {
  /** owner/name (GitLab groups: group/sub/name), unique on the server. */
  name: string;
  /** Without credentials: those are `credential`, sealed in the store. */
  url: string;
  credential: GitCredential | null;
  /** An ssh:// repository's deploy key (a private key), sealed in the store. */
  sshKey: string | null;
  defaultBranch: string;
  /** The pipeline file or folder to read; null: the first of the conventional names that exists. */
  configPath: string | null;
  /** Set by the server's admin only: may ask for privileged steps, host volumes, socket mode. */
  trusted: boolean;
  /** How long a pipeline's job may run. */
  timeoutS: number;
  /** What the forge signs its webhooks with (GitLab: sends as X-Gitlab-Token). */
  webhookSecret: string;
  forge: ForgeSettings | null;
  /** The token statuses are posted with (and the webhook was created with). */
  forgeToken: string | null;
  /** Seconds between polls of the remote's refs; null: webhooks only. */
  pollIntervalS: number | null;
  /** A new pipeline of a branch (or pull request) cancels the older ones of it still running. */
  autoCancel: boolean;
  createdAt: number;
}

export type RepoChanges = Partial<Pick<RepoRecord, 'defaultBranch' | 'configPath' | 'trusted' | 'timeoutS' | 'forge' | 'forgeToken' | 'pollIntervalS' | 'webhookSecret' | 'credential' | 'autoCancel' | 'sshKey'>>;

/** What the poll of a repository last saw, and how it went. */
export interface PollState {
  nextPollAt: number | null;
  /** Branch and tag heads by full ref name; null before the first poll. */
  polledRefs: Record<string, string> | null;
  pollFailures: number;
  pollError: string | null;
}

function pollState(r: Row): PollState {
  return {
    nextPollAt: r.next_poll_at === null || r.next_poll_at === undefined ? null : Number(r.next_poll_at),
    polledRefs: r.polled_refs ? (JSON.parse(String(r.polled_refs)) as Record<string, string>) : null,
    pollFailures: Number(r.poll_failures ?? 0),
    pollError: (r.poll_error as string | null | undefined) ?? null,
  };
}

/** Each sealed value opens only in its own repository's row and column. */
const context = {
  credential: (repo: string) => `repo-credential:${repo}`,
  webhook: (repo: string) => `repo-webhook:${repo}`,
  forgeToken: (repo: string) => `repo-forge-token:${repo}`,
  sshKey: (repo: string) => `repo-ssh-key:${repo}`,
};

function toRepo(r: Row, box: SecretBox): RepoRecord {
  const name = String(r.name);
  const credential = box.revealOrNull(r.credential as string | null, context.credential(name));
  return {
    name,
    url: String(r.url),
    credential: credential === null ? null : (JSON.parse(credential) as GitCredential),
    sshKey: box.revealOrNull(r.ssh_key as string | null | undefined, context.sshKey(name)),
    defaultBranch: String(r.default_branch),
    configPath: (r.config_path as string | null) ?? null,
    trusted: Number(r.trusted) === 1,
    timeoutS: Number(r.timeout_s),
    webhookSecret: box.reveal(String(r.webhook_secret), context.webhook(name)),
    forge: r.forge ? (JSON.parse(String(r.forge)) as ForgeSettings) : null,
    forgeToken: box.revealOrNull(r.forge_token as string | null, context.forgeToken(name)),
    pollIntervalS: r.poll_interval_s === null || r.poll_interval_s === undefined ? null : Number(r.poll_interval_s),
    autoCancel: Number(r.auto_cancel ?? 0) === 1,
    createdAt: Number(r.created_at),
  };
}

/** Repositories in the server's store; their secrets sealed with `box`. */
export class RepoStore {
  private readonly db: Database;
  private readonly box: SecretBox;

  constructor(db: Database, box: SecretBox) {
    this.db = db;
    this.box = box;
  }

  /** False when a repository of that name is there already. */
  async add(repo: Omit<RepoRecord, 'createdAt'>): Promise<boolean> {
    const rows = await this.db.query(
      `INSERT INTO repos (name, url, credential, default_branch, config_path, trusted, timeout_s, webhook_secret, forge, forge_token, poll_interval_s, next_number, created_at, auto_cancel, ssh_key)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1, $12, $13, $14) ON CONFLICT (name) DO NOTHING RETURNING name`,
      [
        repo.name,
        repo.url,
        repo.credential ? this.box.seal(JSON.stringify(repo.credential), context.credential(repo.name)) : null,
        repo.defaultBranch,
        repo.configPath,
        repo.trusted ? 1 : 0,
        repo.timeoutS,
        this.box.seal(repo.webhookSecret, context.webhook(repo.name)),
        repo.forge ? JSON.stringify(repo.forge) : null,
        this.box.sealOrNull(repo.forgeToken, context.forgeToken(repo.name)),
        repo.pollIntervalS,
        Date.now(),
        repo.autoCancel ? 1 : 0,
        this.box.sealOrNull(repo.sshKey, context.sshKey(repo.name)),
      ],
    );
    return rows.length === 1;
  }

  async get(name: string): Promise<(RepoRecord & PollState) | undefined> {
    const [r] = await this.db.query('SELECT * FROM repos WHERE name = $1', [name]);
    return r ? { ...toRepo(r, this.box), ...pollState(r) } : undefined;
  }

  async list(): Promise<(RepoRecord & PollState)[]> {
    return (await this.db.query('SELECT * FROM repos ORDER BY name')).map((r) => ({ ...toRepo(r, this.box), ...pollState(r) }));
  }

  async update(name: string, changes: RepoChanges): Promise<(RepoRecord & PollState) | undefined> {
    const sets: string[] = [];
    const values: unknown[] = [name];
    const set = (column: string, value: unknown) => {
      values.push(value);
      sets.push(`${column} = $${values.length}`);
    };
    if (changes.defaultBranch !== undefined) set('default_branch', changes.defaultBranch);
    if (changes.configPath !== undefined) set('config_path', changes.configPath);
    if (changes.trusted !== undefined) set('trusted', changes.trusted ? 1 : 0);
    if (changes.timeoutS !== undefined) set('timeout_s', changes.timeoutS);
    if (changes.forge !== undefined) set('forge', changes.forge ? JSON.stringify(changes.forge) : null);
    if (changes.forgeToken !== undefined) set('forge_token', this.box.sealOrNull(changes.forgeToken, context.forgeToken(name)));
    if (changes.pollIntervalS !== undefined) set('poll_interval_s', changes.pollIntervalS);
    if (changes.autoCancel !== undefined) set('auto_cancel', changes.autoCancel ? 1 : 0);
    if (changes.sshKey !== undefined) set('ssh_key', this.box.sealOrNull(changes.sshKey, context.sshKey(name)));
    if (changes.webhookSecret !== undefined) set('webhook_secret', this.box.seal(changes.webhookSecret, context.webhook(name)));
    if (changes.credential !== undefined) set('credential', changes.credential ? this.box.seal(JSON.stringify(changes.credential), context.credential(name)) : null);
    if (sets.length) await this.db.query(`UPDATE repos SET ${sets.join(', ')} WHERE name = $1`, values);
    return this.get(name);
  }

  /** Removes the repository with its schedules and secrets (a repository added again later under its name must not inherit them). */
  async remove(name: string): Promise<boolean> {
    return this.db.transaction(async (tx) => {
      await tx.query('DELETE FROM secrets WHERE scope = $1', [name]);
      await tx.query('DELETE FROM repo_crons WHERE repo = $1', [name]);
      await tx.query('DELETE FROM repo_members WHERE repo = $1', [name]);
      return (await tx.query('DELETE FROM repos WHERE name = $1 RETURNING name', [name])).length === 1;
    });
  }

  /** Repositories whose poll is due by `now` (oldest first), with what their last poll saw. */
  async duePolls(now: number, limit: number): Promise<(RepoRecord & PollState)[]> {
    const rows = await this.db.query('SELECT * FROM repos WHERE poll_interval_s IS NOT NULL AND (next_poll_at IS NULL OR next_poll_at <= $1) ORDER BY next_poll_at LIMIT $2', [now, limit]);
    return rows.map((r) => ({ ...toRepo(r, this.box), ...pollState(r) }));
  }

  /** When the next poll of any repository is due (undefined: none is polled). */
  async nextPollAt(): Promise<number | undefined> {
    const [row] = await this.db.query<{ at: number | null; n: number }>('SELECT MIN(COALESCE(next_poll_at, 0)) AS at, COUNT(*) AS n FROM repos WHERE poll_interval_s IS NOT NULL');
    return row && Number(row.n) > 0 ? Number(row.at ?? 0) : undefined;
  }

  /** Makes the repository's poll due now; false when it is not polled. */
  async pollSoon(name: string): Promise<boolean> {
    return (await this.db.query('UPDATE repos SET next_poll_at = 0 WHERE name = $1 AND poll_interval_s IS NOT NULL AND next_poll_at IS NOT NULL RETURNING name', [name])).length === 1
      || (await this.db.query('SELECT name FROM repos WHERE name = $1 AND poll_interval_s IS NOT NULL', [name])).length === 1;
  }

  /** Takes a repository's poll: true for exactly one of the servers that try at once. */
  async claimPoll(name: string, expected: number | null, next: number): Promise<boolean> {
    const rows = expected === null
      ? await this.db.query('UPDATE repos SET next_poll_at = $2 WHERE name = $1 AND next_poll_at IS NULL RETURNING name', [name, next])
      : await this.db.query('UPDATE repos SET next_poll_at = $2 WHERE name = $1 AND next_poll_at = $3 RETURNING name', [name, next, expected]);
    return rows.length === 1;
  }

  /** What a poll saw (written only when it changed), or why it failed. */
  async setPolled(name: string, outcome: { refs?: Record<string, string>; error: string | null; failures: number }): Promise<void> {
    if (outcome.refs) await this.db.query('UPDATE repos SET polled_refs = $2, poll_error = $3, poll_failures = $4 WHERE name = $1', [name, JSON.stringify(outcome.refs), outcome.error, outcome.failures]);
    else await this.db.query('UPDATE repos SET poll_error = $2, poll_failures = $3 WHERE name = $1', [name, outcome.error, outcome.failures]);
  }

  /** The next pipeline number of the repository, taken in the caller's transaction: #1, #2, … with no two alike. */
  static async takeNumber(tx: Database, name: string): Promise<number | undefined> {
    const [row] = await tx.query<{ n: number }>('UPDATE repos SET next_number = next_number + 1 WHERE name = $1 RETURNING next_number - 1 AS n', [name]);
    return row ? Number(row.n) : undefined;
  }
}
