import type { Database } from '../store/database.ts';

export const ROLES = ['read', 'write', 'maintain'] as const;
export type RepoRole = (typeof ROLES)[number];

/** Whether `held` covers `needed`: maintain covers write, write covers read. */
export function covers(held: RepoRole | undefined, needed: RepoRole): boolean {
  return held !== undefined && ROLES.indexOf(held) >= ROLES.indexOf(needed);
}

export interface Member {
  user: string;
  role: RepoRole;
  grantedBy: string;
  grantedAt: number;
}

/** Who may do what on each repository (the server's admin may do everything, and is no member). */
export class RepoMembers {
  private readonly db: Database;

  constructor(db: Database) {
    this.db = db;
  }

  async grant(repo: string, user: string, role: RepoRole, by: string, now = Date.now()): Promise<void> {
    await this.db.query(
      `INSERT INTO repo_members (repo, user_name, role, granted_by, granted_at) VALUES ($1, $2, $3, $4, $5)
       ON CONFLICT (repo, user_name) DO UPDATE SET role = excluded.role, granted_by = excluded.granted_by, granted_at = excluded.granted_at`,
      [repo, user, role, by, now],
    );
  }

  async revoke(repo: string, user: string): Promise<boolean> {
    return (await this.db.query('DELETE FROM repo_members WHERE repo = $1 AND user_name = $2 RETURNING user_name', [repo, user])).length === 1;
  }

  async list(repo: string): Promise<Member[]> {
    return (await this.db.query('SELECT * FROM repo_members WHERE repo = $1 ORDER BY user_name', [repo])).map((r) => ({ user: String(r.user_name), role: r.role as RepoRole, grantedBy: String(r.granted_by), grantedAt: Number(r.granted_at) }));
  }

  async roleOf(repo: string, user: string): Promise<RepoRole | undefined> {
    const [r] = await this.db.query<{ role: RepoRole }>('SELECT role FROM repo_members WHERE repo = $1 AND user_name = $2', [repo, user]);
    return r?.role;
  }

  /** The repositories a user may read, by name. */
  async readable(user: string): Promise<Set<string>> {
    return new Set((await this.db.query<{ repo: string }>('SELECT repo FROM repo_members WHERE user_name = $1', [user])).map((r) => r.repo));
  }
}
