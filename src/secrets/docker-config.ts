import { NestorError } from '../errors.ts';

/**
 * The credentials of a Docker `config.json`, read where registries are used: GitOps' import of
 * a team's credentials (the server), and the pull secrets of a job (the scheduler masks what
 * they hold, the Docker backend pulls with them). It lives beside every layer, not in
 * src/engine, because the scheduler, which imports nothing of Docker, reads it too.
 */

export interface RegistryCredential {
  /** `host[:port]` as the config's key names it, without scheme or path (`index.docker.io`). */
  registry: string;
  username: string;
  secret: string;
}

const HINT = 'Send the text of a ~/.docker/config.json whose "auths" entries hold "auth" (base64 of user:password) or "username" and "password"; credential helpers are not read.';

/** A text that is not a usable Docker config; `why` never quotes its values. */
export class DockerConfigInvalidError extends NestorError {
  readonly why: string;
  constructor(why: string) {
    super('NESTOR_DOCKER_CONFIG_INVALID', `The Docker config is not usable: ${why}`, HINT);
    this.why = why;
  }
}

type AuthEntry = { auth?: string; username?: string; password?: string } | null | undefined;

/** The credentials of a Docker `config.json` (`auths` with `auth`, or `username`/`password`). */
export function parseDockerConfig(text: string): RegistryCredential[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new DockerConfigInvalidError('it is not JSON');
  }
  const auths = (parsed as { auths?: unknown } | null)?.auths;
  if (!auths || typeof auths !== 'object') throw new DockerConfigInvalidError('it has no "auths" object');
  const out: RegistryCredential[] = [];
  for (const [key, entry] of Object.entries(auths as Record<string, AuthEntry>)) {
    // Keys are written as URLs by older clients (https://index.docker.io/v1/).
    const registry = key.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
    if (entry?.username && entry.password) out.push({ registry, username: entry.username, secret: entry.password });
    else if (entry?.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon <= 0) throw new DockerConfigInvalidError(`the "auth" of ${key} is not base64 of user:password`);
      out.push({ registry, username: decoded.slice(0, colon), secret: decoded.slice(colon + 1) });
    }
  }
  if (!out.length) throw new DockerConfigInvalidError('no entry of "auths" carries credentials');
  return out;
}

/**
 * The strings of a Docker config that give its credentials away, to mask wherever the config
 * itself is masked: each password, `user:password`, and each `auth` as written (base64), which
 * a step may print alone (`jq -r .auths[].auth`). None for a text that is not such a config.
 */
export function credentialStrings(text: string): string[] {
  if (!text.includes('auths')) return [];
  let auths: unknown;
  try {
    auths = (JSON.parse(text) as { auths?: unknown } | null)?.auths;
  } catch {
    return [];
  }
  if (!auths || typeof auths !== 'object') return [];
  return Object.values(auths as Record<string, AuthEntry>).flatMap((e) => {
    const decoded = e?.auth ? Buffer.from(e.auth, 'base64').toString('utf8') : '';
    const password = e?.password ?? decoded.slice(decoded.indexOf(':') + 1);
    return [e?.auth, decoded, password, e?.username && e.password ? `${e.username}:${e.password}` : undefined].filter((s): s is string => typeof s === 'string' && s.length > 0);
  });
}
