import { NestorError } from '../errors.ts';

export interface RegistryCredential {
  registry: string;
  username: string;
  secret: string;
}

function invalid(why: string): NestorError {
  return new NestorError('NESTOR_DOCKER_CONFIG_INVALID', `The Docker config is not usable: ${why}`, 'Send the text of a ~/.docker/config.json whose "auths" entries hold "auth" (base64 of user:password) or "username" and "password"; credential helpers are not read.');
}

/** The credentials of a Docker `config.json` (`auths` with `auth`, or `username`/`password`). */
export function parseDockerConfig(text: string): RegistryCredential[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw invalid('it is not JSON');
  }
  const auths = (parsed as { auths?: unknown }).auths;
  if (!auths || typeof auths !== 'object') throw invalid('it has no "auths" object');
  const out: RegistryCredential[] = [];
  for (const [key, entry] of Object.entries(auths as Record<string, { auth?: string; username?: string; password?: string }>)) {
    // Keys are written as URLs by older clients (https://index.docker.io/v1/).
    const registry = key.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
    if (entry?.username && entry.password) out.push({ registry, username: entry.username, secret: entry.password });
    else if (entry?.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon <= 0) throw invalid(`the "auth" of ${key} is not base64 of user:password`);
      out.push({ registry, username: decoded.slice(0, colon), secret: decoded.slice(colon + 1) });
    }
  }
  if (!out.length) throw invalid('no entry of "auths" carries credentials');
  return out;
}
