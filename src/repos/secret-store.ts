import { NestorError } from '../errors.ts';
import { globMatches } from '../pipeline/glob.ts';
import type { SecretBox } from '../secrets/secret-box.ts';
import type { Database, Row } from '../store/database.ts';
import type { PipelineTrigger } from './repo-run.ts';

/** The events a secret may be limited to: a trigger's own, as pipelines record them. */
export const SECRET_EVENTS = ['push', 'tag', 'pull_request', 'cron', 'manual'] as const;
export type SecretEvent = (typeof SECRET_EVENTS)[number];

/** A secret as it is listed: everything but its value, which never leaves the server but to a job. */
export interface SecretInfo {
  /** '' for the server's own secrets (every repository's jobs), else the repository's name. */
  scope: string;
  name: string;
  /** Empty: every event. */
  events: SecretEvent[];
  /** Globs of branches (`main`, `release/*`); empty: every branch. A tag's pipeline has no branch. */
  branches: string[];
  /** Whether a pull request from a fork is given it (never by default: a fork's code reads it). */
  allowForks: boolean;
  updatedAt: number;
  updatedBy: string;
}

export type SecretLimits = Pick<SecretInfo, 'events' | 'branches' | 'allowForks'>;

/** The letters of a secret's name: what every format's syntax can say (`from_secret`, `secrets.X`, `$X`). */
export const SECRET_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/** A value's bound: a certificate or a Docker config fits many times over; a whole file does not belong here. */
export const MAX_SECRET_BYTES = 64 * 1024;

function toInfo(r: Row): SecretInfo {
  return {
    scope: String(r.scope),
    name: String(r.name),
    events: JSON.parse(String(r.events)) as SecretEvent[],
    branches: JSON.parse(String(r.branches)) as string[],
    allowForks: Boolean(Number(r.allow_forks)),
    updatedAt: Number(r.updated_at),
    updatedBy: String(r.updated_by),
  };
}

/** Whether a pipeline with this trigger may be given a secret with these limits, and if not, why. */
export function secretRefusal(s: SecretLimits, trigger: Pick<PipelineTrigger, 'event' | 'branch' | 'pullRequest'>): string | undefined {
  if (s.events.length && !s.events.includes(trigger.event as SecretEvent)) return `it is limited to ${s.events.join(', ')} (this is ${trigger.event})`;
  if (s.branches.length && !(trigger.branch !== undefined && s.branches.some((b) => globMatches(trigger.branch!, b)))) return `it is limited to the branches ${s.branches.join(', ')}${trigger.branch ? ` (this is ${trigger.branch})` : ' (this pipeline is of no branch)'}`;
  if (trigger.pullRequest?.fromFork && !s.allowForks) return 'this is a pull request from a fork, which gets no secret not set with --allow-forks';
  return undefined;
}

/**
 * The secrets jobs of repositories are given: the server's own and each repository's, sealed
 * with the server's key (AES-256-GCM, the scope and name bound in as its context, so a value
 * moved to another row does not open), and a repository's own winning over the server's of
 * the same name.
 */
export class SecretStore {
  private readonly db: Database;
  private readonly box: SecretBox;

  constructor(db: Database, box: SecretBox) {
    this.db = db;
    this.box = box;
  }

  static check(name: string, value: string): void {
    if (!SECRET_NAME.test(name)) throw new NestorError('NESTOR_SECRET_NAME_INVALID', `${JSON.stringify(name)} is not a secret name`, 'Use letters, digits and "_", starting with a letter or "_" (at most 128): every format can name it, and GitLab gives it as a variable.');
    if (Buffer.byteLength(value) > MAX_SECRET_BYTES) throw new NestorError('NESTOR_SECRET_TOO_LARGE', `The secret ${name} is ${Buffer.byteLength(value)} bytes; at most ${MAX_SECRET_BYTES} are kept`, 'Keep a large file as an artifact or in a registry, and its credential as the secret.');
    if (value === '') throw new NestorError('NESTOR_SECRET_EMPTY', `The secret ${name} has no value`, 'Give its value (--value, a file with --from-file, or standard input); remove one no longer needed with `nestor secrets rm`.');
  }

  private context(scope: string, name: string): string {
    return `secret ${scope || '(server)'} ${name}`;
  }

  /** Sets a secret (a new one, or a new value and limits for one there); true when it was new. */
  async set(scope: string, name: string, value: string, limits: SecretLimits, by: string, now = Date.now()): Promise<boolean> {
    SecretStore.check(name, value);
    const sealed = this.box.seal(value, this.context(scope, name));
    const existed = (await this.db.query('SELECT name FROM secrets WHERE scope = $1 AND name = $2', [scope, name])).length > 0;
    await this.db.query(
      `INSERT INTO secrets (scope, name, value, events, branches, allow_forks, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (scope, name) DO UPDATE SET value = excluded.value, events = excluded.events, branches = excluded.branches, allow_forks = excluded.allow_forks, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
      [scope, name, sealed, JSON.stringify(limits.events), JSON.stringify(limits.branches), limits.allowForks ? 1 : 0, now, by],
    );
    return !existed;
  }

  async list(scope: string): Promise<SecretInfo[]> {
    return (await this.db.query('SELECT scope, name, events, branches, allow_forks, updated_at, updated_by FROM secrets WHERE scope = $1 ORDER BY name', [scope])).map(toInfo);
  }

  async remove(scope: string, name: string): Promise<boolean> {
    return (await this.db.query('DELETE FROM secrets WHERE scope = $1 AND name = $2 RETURNING name', [scope, name])).length === 1;
  }

  /**
   * The secrets a job of this repository's pipeline with this trigger is given, by name, with
   * the names of those held back (and why) for its log. The repository's own come over the
   * server's of the same name, whatever their limits: a repository's narrower secret is not
   * widened by a server-wide one it hides.
   */
  async forPipeline(repo: string, trigger: Pick<PipelineTrigger, 'event' | 'branch' | 'pullRequest'>): Promise<{ values: Record<string, string>; withheld: { name: string; why: string }[] }> {
    const values: Record<string, string> = {};
    const withheld: { name: string; why: string }[] = [];
    for (const { name, row, why } of await this.decide(repo, trigger)) {
      if (why) withheld.push({ name, why });
      else values[name] = this.box.reveal(String(row.value), this.context(String(row.scope), name));
    }
    return { values, withheld };
  }

  /** The names of the secrets a pipeline with this trigger gets, opening none (for its compile). */
  async namesFor(repo: string, trigger: Pick<PipelineTrigger, 'event' | 'branch' | 'pullRequest'>): Promise<string[]> {
    return (await this.decide(repo, trigger)).filter((d) => !d.why).map((d) => d.name);
  }

  /** Each secret the repository's pipelines see (its own over the server's of a name), with why this trigger is refused it. */
  private async decide(repo: string, trigger: Pick<PipelineTrigger, 'event' | 'branch' | 'pullRequest'>): Promise<{ name: string; row: Row; why: string | undefined }[]> {
    const rows = await this.db.query('SELECT * FROM secrets WHERE scope = $1 OR scope = $2', ['', repo]);
    const chosen = new Map<string, Row>();
    for (const r of rows) if (String(r.scope) === repo || !chosen.has(String(r.name))) chosen.set(String(r.name), r);
    return [...chosen].sort(([a], [b]) => a.localeCompare(b)).map(([name, row]) => ({ name, row, why: secretRefusal(toInfo(row), trigger) }));
  }
}
