import { NestorError } from '../errors.ts';
import { globMatches } from '../pipeline/glob.ts';
import type { SecretBox } from '../secrets/secret-box.ts';
import type { Database, Row } from '../store/database.ts';
import type { PipelineTrigger } from './repo-run.ts';

/** What a runner needs to reach a target's engine: never given to a job's containers. */
export interface DeployCredentials {
  /** ssh://: the private key (PEM or OpenSSH) the runner logs in with. */
  sshKey?: string;
  /** ssh://: the target's host key line(s) as in known_hosts; absent: the first key seen is not checked. */
  knownHosts?: string;
  /** tcp://: the engine's CA and this client's certificate and key (PEM). */
  tls?: { ca: string; cert: string; key: string };
}

/** A deploy target as it is listed: everything but its credentials. */
export interface DeployTargetInfo {
  name: string;
  /** ssh://user@host[:port] or tcp://host:port (TLS). */
  url: string;
  /** Globs of repositories (`team/*`) whose jobs may use it; never empty. */
  repos: string[];
  /** Globs of branches (`main`, `release/*`); empty: every branch. A tag's pipeline has no branch. */
  branches: string[];
  updatedAt: number;
  updatedBy: string;
}

/** What a lease gives a runner for one target. */
export interface GrantedTarget {
  url: string;
  credentials: DeployCredentials;
}

export const TARGET_NAME = /^[a-z0-9][a-z0-9._-]{0,62}$/;

function toInfo(r: Row): DeployTargetInfo {
  return { name: String(r.name), url: String(r.url), repos: JSON.parse(String(r.repos)) as string[], branches: JSON.parse(String(r.branches)) as string[], updatedAt: Number(r.updated_at), updatedBy: String(r.updated_by) };
}

/** Checks a target's definition; every problem is an error naming what to give instead. */
export function checkTarget(name: string, url: string, credentials: DeployCredentials, repos: string[]): void {
  if (!TARGET_NAME.test(name)) throw new NestorError('NESTOR_TARGET_NAME_INVALID', `${JSON.stringify(name)} is not a deploy target name`, 'Use lower-case letters, digits, ".", "_" and "-" (at most 63), as a step names it in `deploy:` or NESTOR_DEPLOY_TARGET.');
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new NestorError('NESTOR_TARGET_URL_INVALID', `${JSON.stringify(url)} is not a URL`, 'Give ssh://USER@HOST[:PORT] (the engine of that machine, through its sshd) or tcp://HOST:PORT (a TLS engine endpoint).');
  }
  if (u.protocol === 'ssh:') {
    if (!u.username || !u.hostname) throw new NestorError('NESTOR_TARGET_URL_INVALID', `${url} names no user or host`, 'Give ssh://USER@HOST[:PORT].');
    if (!credentials.sshKey) throw new NestorError('NESTOR_TARGET_CREDENTIALS_MISSING', `the ssh:// target ${name} has no key`, 'Give the private key it logs in with: --ssh-key FILE (a key of its own, never the server\'s).');
  } else if (u.protocol === 'tcp:') {
    if (!u.hostname || !u.port) throw new NestorError('NESTOR_TARGET_URL_INVALID', `${url} names no host and port`, 'Give tcp://HOST:PORT, usually port 2376.');
    if (!credentials.tls) throw new NestorError('NESTOR_TARGET_CREDENTIALS_MISSING', `the tcp:// target ${name} has no TLS client certificate`, 'An engine on TCP is reached with TLS only: give --tls-ca, --tls-cert and --tls-key (the files of a DOCKER_CERT_PATH).');
  } else {
    throw new NestorError('NESTOR_TARGET_URL_INVALID', `${url}: a deploy target is ssh:// or tcp://, not ${u.protocol.replace(/:$/, '')}://`, 'Give ssh://USER@HOST[:PORT] or tcp://HOST:PORT (TLS).');
  }
  if (!repos.length) throw new NestorError('NESTOR_TARGET_REPOS_MISSING', `the deploy target ${name} names no repository that may use it`, 'Give --repos with the repositories (globs: team/app, team/*) whose pipelines may deploy to it.');
}

/** Why a job of this repository and trigger may not use the target, if it may not. */
export function targetRefusal(t: Pick<DeployTargetInfo, 'name' | 'repos' | 'branches'>, repo: string | undefined, trigger: Pick<PipelineTrigger, 'branch' | 'pullRequest'> | undefined): string | undefined {
  if (!repo) return `it is for repositories' pipelines only (${t.repos.join(', ')}), and this job was submitted on its own`;
  if (!t.repos.some((g) => globMatches(repo, g))) return `it is for the repositories ${t.repos.join(', ')} only (this is ${repo})`;
  if (trigger?.pullRequest?.fromFork) return 'this is a pull request from a fork, which reaches no deploy target';
  if (t.branches.length && !(trigger?.branch !== undefined && t.branches.some((b) => globMatches(trigger.branch!, b)))) return `it is for the branches ${t.branches.join(', ')} only${trigger?.branch ? ` (this is ${trigger.branch})` : ' (this pipeline is of no branch)'}`;
  return undefined;
}

/**
 * The server's deploy targets: defined by its admin, their credentials sealed with the
 * server's key (the name bound in, so sealed credentials moved to another row do not open),
 * given to a runner with the lease of a job its repository and branch may use them for.
 */
export class DeployTargets {
  private readonly db: Database;
  private readonly box: SecretBox;

  constructor(db: Database, box: SecretBox) {
    this.db = db;
    this.box = box;
  }

  /** Defines a target, or replaces one of that name; true when it was new. */
  async set(name: string, url: string, credentials: DeployCredentials, limits: { repos: string[]; branches: string[] }, by: string, now = Date.now()): Promise<boolean> {
    checkTarget(name, url, credentials, limits.repos);
    const existed = (await this.db.query('SELECT name FROM deploy_targets WHERE name = $1', [name])).length > 0;
    await this.db.query(
      `INSERT INTO deploy_targets (name, url, credentials, repos, branches, updated_at, updated_by) VALUES ($1, $2, $3, $4, $5, $6, $7)
       ON CONFLICT (name) DO UPDATE SET url = excluded.url, credentials = excluded.credentials, repos = excluded.repos, branches = excluded.branches, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
      [name, url, this.box.seal(JSON.stringify(credentials), `deploy-target ${name}`), JSON.stringify(limits.repos), JSON.stringify(limits.branches), now, by],
    );
    return !existed;
  }

  async list(): Promise<DeployTargetInfo[]> {
    return (await this.db.query('SELECT name, url, repos, branches, updated_at, updated_by FROM deploy_targets ORDER BY name')).map(toInfo);
  }

  async remove(name: string): Promise<boolean> {
    return (await this.db.query('DELETE FROM deploy_targets WHERE name = $1 RETURNING name', [name])).length === 1;
  }

  /** The targets a job asks for that it may use, opened for its runner, and those refused with why. */
  async forJob(names: string[], repo: string | undefined, trigger: Pick<PipelineTrigger, 'branch' | 'pullRequest'> | undefined): Promise<{ granted: Record<string, GrantedTarget>; refused: { name: string; why: string }[] }> {
    const granted: Record<string, GrantedTarget> = {};
    const refused: { name: string; why: string }[] = [];
    for (const name of names) {
      const [row] = await this.db.query('SELECT * FROM deploy_targets WHERE name = $1', [name]);
      if (!row) {
        refused.push({ name, why: 'the server has no deploy target of that name (its admin defines them: nestor targets add)' });
        continue;
      }
      const why = targetRefusal(toInfo(row), repo, trigger);
      if (why) refused.push({ name, why });
      else granted[name] = { url: String(row.url), credentials: JSON.parse(this.box.reveal(String(row.credentials), `deploy-target ${name}`)) as DeployCredentials };
    }
    return { granted, refused };
  }
}
