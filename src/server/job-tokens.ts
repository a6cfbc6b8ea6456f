import { timingSafeEqual } from 'node:crypto';
import type { SecretBox } from '../secrets/secret-box.ts';
import type { Job, Store } from './store/store.ts';

const PREFIX = 'njt_';

/** The token of an Authorization header: Bearer TOKEN, or Basic with the token as password (how git and netrc send it). */
export function tokenOf(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const bearer = /^Bearer\s+(\S+)$/i.exec(header)?.[1];
  if (bearer) return bearer;
  const basic = /^Basic\s+(\S+)$/i.exec(header)?.[1];
  if (!basic) return undefined;
  const decoded = Buffer.from(basic, 'base64').toString();
  const colon = decoded.indexOf(':');
  return colon >= 0 && decoded.length > colon + 1 ? decoded.slice(colon + 1) : undefined;
}

/**
 * A repository's job's token: what its steps fetch the repository and read their pipeline's
 * artifacts with (CI_JOB_TOKEN, secrets.GITHUB_TOKEN, the netrc), and nothing else. It names
 * the job and its attempt under an HMAC of the server's key, so nothing is stored for it, and
 * it is good exactly while that attempt runs: the job ending, or being retried, ends it.
 */
export class JobTokens {
  private readonly box: SecretBox;
  private readonly store: Store;

  constructor(box: SecretBox, store: Store) {
    this.box = box;
    this.store = store;
  }

  static looksLike(token: string): boolean {
    return token.startsWith(PREFIX);
  }

  issue(job: Pick<Job, 'id' | 'attempts'>): string {
    const subject = `${job.id}.${job.attempts}`;
    return `${PREFIX}${Buffer.from(subject).toString('base64url')}.${this.box.mac('job token', subject).toString('base64url')}`;
  }

  /** The running job the token is of, or undefined: forged, of another server's key, or of an attempt that ended. */
  async verify(token: string): Promise<(Job & { repo: string }) | undefined> {
    if (!JobTokens.looksLike(token)) return undefined;
    const [subjectPart = '', macPart = ''] = token.slice(PREFIX.length).split('.');
    const subject = Buffer.from(subjectPart, 'base64url').toString();
    const given = Buffer.from(macPart, 'base64url');
    const expected = this.box.mac('job token', subject);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    const [id = '', attempt = ''] = subject.split('.');
    const job = await this.store.job(id);
    if (!job || job.status !== 'running' || String(job.attempts) !== attempt || !job.repo) return undefined;
    return job as Job & { repo: string };
  }
}
