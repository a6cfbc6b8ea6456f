import { Cron } from 'croner';
import { NestorError } from '../errors.ts';
import type { Database, Row } from '../store/database.ts';

/** A repository's cron schedule: a branch's pipeline at the times `expr` names (UTC). */
export interface CronRecord {
  repo: string;
  /** Its name: what Woodpecker's `when: cron:` and Drone's `trigger: cron:` match. */
  name: string;
  expr: string;
  branch: string;
  /** 'api': set by a user; 'file': read from the repository's own files (GitHub's on.schedule). */
  source: 'api' | 'file';
  nextRunAt: number;
  lastRunAt: number | null;
}

/** The next time `expr` fires after `from`, in UTC as GitHub and the CI servers read crons; refused with a hint when it is not a cron line. */
export function nextRun(expr: string, from: number): number {
  let cron: Cron;
  try {
    cron = new Cron(expr, { timezone: 'UTC', paused: true });
  } catch (err) {
    throw new NestorError('NESTOR_CRON_INVALID', `${JSON.stringify(expr)} is not a cron schedule: ${(err as Error).message}`, 'Write five fields, minute hour day-of-month month day-of-week, e.g. "0 3 * * *" for 03:00 UTC every day, or a nickname such as @daily.');
  }
  const next = cron.nextRun(new Date(from));
  if (!next) throw new NestorError('NESTOR_CRON_INVALID', `${JSON.stringify(expr)} never fires again`, 'Give a schedule that repeats, e.g. "0 3 * * *".');
  return next.getTime();
}

function toCron(r: Row): CronRecord {
  return { repo: String(r.repo), name: String(r.name), expr: String(r.expr), branch: String(r.branch), source: r.source as CronRecord['source'], nextRunAt: Number(r.next_run_at), lastRunAt: r.last_run_at === null || r.last_run_at === undefined ? null : Number(r.last_run_at) };
}

export class CronStore {
  private readonly db: Database;

  constructor(db: Database) {
    this.db = db;
  }

  /** Adds or replaces a schedule; its next run is computed from `now`. */
  async put(c: Omit<CronRecord, 'nextRunAt' | 'lastRunAt'>, now: number): Promise<CronRecord> {
    const next = nextRun(c.expr, now);
    await this.db.query(
      `INSERT INTO repo_crons (repo, name, expr, branch, source, next_run_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (repo, name) DO UPDATE SET expr = excluded.expr, branch = excluded.branch, source = excluded.source, next_run_at = excluded.next_run_at`,
      [c.repo, c.name, c.expr, c.branch, c.source, next, now],
    );
    return { ...c, nextRunAt: next, lastRunAt: null };
  }

  async list(repo: string): Promise<CronRecord[]> {
    return (await this.db.query('SELECT * FROM repo_crons WHERE repo = $1 ORDER BY name', [repo])).map(toCron);
  }

  async remove(repo: string, name: string): Promise<boolean> {
    return (await this.db.query('DELETE FROM repo_crons WHERE repo = $1 AND name = $2 RETURNING name', [repo, name])).length === 1;
  }

  /**
   * The schedules the repository's files declare now, on its default branch: those no longer
   * there go, new ones come, and one that is unchanged keeps its next run.
   */
  async syncFromFiles(repo: string, branch: string, exprs: string[], now: number): Promise<string[]> {
    const refused: string[] = [];
    const existing = (await this.list(repo)).filter((c) => c.source === 'file');
    const wanted = new Map(exprs.map((e) => [`schedule ${e}`, e]));
    for (const c of existing) if (!wanted.has(c.name) || c.branch !== branch) await this.remove(repo, c.name);
    for (const [name, expr] of wanted) {
      if (existing.some((c) => c.name === name && c.branch === branch)) continue;
      await this.put({ repo, name, expr, branch, source: 'file' }, now).catch((err: unknown) => refused.push(`${expr}: ${(err as Error).message}`));
    }
    return refused;
  }

  async due(now: number, limit: number): Promise<CronRecord[]> {
    return (await this.db.query('SELECT * FROM repo_crons WHERE next_run_at <= $1 ORDER BY next_run_at LIMIT $2', [now, limit])).map(toCron);
  }

  async nextDueAt(): Promise<number | undefined> {
    const [row] = await this.db.query<{ at: number | null }>('SELECT MIN(next_run_at) AS at FROM repo_crons');
    return row?.at === null || row?.at === undefined ? undefined : Number(row.at);
  }

  /** Takes a run: true for exactly one of the servers that try at once. */
  async claim(c: CronRecord, next: number, now: number): Promise<boolean> {
    return (await this.db.query('UPDATE repo_crons SET next_run_at = $3, last_run_at = $4 WHERE repo = $1 AND name = $2 AND next_run_at = $5 RETURNING name', [c.repo, c.name, next, now, c.nextRunAt])).length === 1;
  }

  async removeRepo(repo: string): Promise<void> {
    await this.db.query('DELETE FROM repo_crons WHERE repo = $1', [repo]);
  }
}
