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
  createdAt: number;
}

export type RepoChanges = Partial<Pick<RepoRecord, 'defaultBranch' | 'configPath' | 'trusted' | 'timeoutS' | 'forge' | 'forgeToken' | 'pollIntervalS' | 'webhookSecret' | 'credential'>>;

/** Each sealed value opens only in its own repository's row and column. */
const context = {
  credential: (repo: string) => `repo-credential:${repo}`,
  webhook: (repo: string) => `repo-webhook:${repo}`,
  forgeToken: (repo: string) => `repo-forge-token:${repo}`,
};

function toRepo(r: Row, box: SecretBox): RepoRecord {
  const name = String(r.name);
  const credential = box.revealOrNull(r.credential as string | null, context.credential(name));
  return {
    name,
    url: String(r.url),
    credential: credential === null ? null : (JSON.parse(credential) as GitCredential),
    defaultBranch: String(r.default_branch),
    configPath: (r.config_path as string | null) ?? null,
    trusted: Number(r.trusted) === 1,
    timeoutS: Number(r.timeout_s),
    webhookSecret: box.reveal(String(r.webhook_secret), context.webhook(name)),
    forge: r.forge ? (JSON.parse(String(r.forge)) as ForgeSettings) : null,
    forgeToken: box.revealOrNull(r.forge_token as string | null, context.forgeToken(name)),
    pollIntervalS: r.poll_interval_s === null || r.poll_interval_s === undefined ? null : Number(r.poll_interval_s),
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
      `INSERT INTO repos (name, url, credential, default_branch, config_path, trusted, timeout_s, webhook_secret, forge, forge_token, poll_interval_s, next_number, created_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1, $12) ON CONFLICT (name) DO NOTHING RETURNING name`,
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
      ],
    );
    return rows.length === 1;
  }

  async get(name: string): Promise<RepoRecord | undefined> {
    const [r] = await this.db.query('SELECT * FROM repos WHERE name = $1', [name]);
    return r ? toRepo(r, this.box) : undefined;
  }

  async list(): Promise<RepoRecord[]> {
    return (await this.db.query('SELECT * FROM repos ORDER BY name')).map((r) => toRepo(r, this.box));
  }

  async update(name: string, changes: RepoChanges): Promise<RepoRecord | undefined> {
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
    if (changes.webhookSecret !== undefined) set('webhook_secret', this.box.seal(changes.webhookSecret, context.webhook(name)));
    if (changes.credential !== undefined) set('credential', changes.credential ? this.box.seal(JSON.stringify(changes.credential), context.credential(name)) : null);
    if (sets.length) await this.db.query(`UPDATE repos SET ${sets.join(', ')} WHERE name = $1`, values);
    return this.get(name);
  }

  /** Removes the repository; its pipelines stay in the history until retention takes them. */
  async remove(name: string): Promise<boolean> {
    return (await this.db.query('DELETE FROM repos WHERE name = $1 RETURNING name', [name])).length === 1;
  }

  /** The next pipeline number of the repository, taken in the caller's transaction: #1, #2, … with no two alike. */
  static async takeNumber(tx: Database, name: string): Promise<number | undefined> {
    const [row] = await tx.query<{ n: number }>('UPDATE repos SET next_number = next_number + 1 WHERE name = $1 RETURNING next_number - 1 AS n', [name]);
    return row ? Number(row.n) : undefined;
  }
}
