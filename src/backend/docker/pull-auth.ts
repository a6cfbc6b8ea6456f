import { NestorError } from '../../errors.ts';
import { DOCKER_HUB, parseReference } from '../../engine/images/reference.ts';
import type { RegistryAuth } from '../backend.ts';

/** What the Engine API takes as X-Registry-Auth for a pull. */
export interface AuthConfig {
  username: string;
  password: string;
  serveraddress: string;
}

/** Docker Hub answers to several names, and a config.json's keys use any of them. */
function registryKey(host: string): string {
  const h = host.toLowerCase();
  return h === 'index.docker.io' || h === 'registry-1.docker.io' ? DOCKER_HUB : h;
}

/** The registry an image is pulled from, as configs name it: `host[:port]`, `docker.io` for Docker Hub. */
export function registryOf(image: string): string {
  return registryKey(parseReference(image).registry);
}

/** The credentials to pull `image` with: the first config given with an entry for its registry, and which one. */
export function credentialFor(image: string, auth: RegistryAuth[]): { from: string; authconfig: AuthConfig } | undefined {
  const registry = registryOf(image);
  for (const a of auth) {
    const c = a.credentials.find((e) => registryKey(e.registry) === registry);
    // Docker Hub's server address is the one its clients have always sent.
    if (c) return { from: a.from, authconfig: { username: c.username, password: c.secret, serveraddress: registry === DOCKER_HUB ? 'https://index.docker.io/v1/' : registry } };
  }
  return undefined;
}

/**
 * Whether a pull failed because the registry wants (other) credentials. Docker Hub says
 * "pull access denied … may require 'docker login'" for a name that does not exist too: that
 * counts only when credentials were sent, when a refusal is the likelier reading.
 */
export function refusedForCredentials(error: string, sent: boolean): boolean {
  if (/no basic auth credentials|unauthorized|authentication required|incorrect username or password|\b401\b/i.test(error)) return true;
  return sent && /denied/i.test(error);
}

/**
 * A pull the registry refused: which image and registry, which credentials were sent (never
 * what they hold), or why none were, and what to give instead.
 */
export class PullUnauthorizedError extends NestorError {
  constructor(image: string, auth: RegistryAuth[], sentFrom: string | undefined, why: string) {
    const registry = registryOf(image);
    const given = auth.filter((a) => a.given);
    const missing = auth.filter((a) => !a.given);
    const [cause, hint] = sentFrom
      ? [`the registry refused the credentials from the ${sentFrom}`, `Check the "auths" entry for ${registry} in the ${sentFrom}: its user name and password (or token), and that this user may pull ${parseReference(image).repository}.`]
      : given.length
        ? [`the registry asks for credentials, and none of those given is for ${registry} (${given.map((a) => `${a.from}: ${[...new Set(a.credentials.map((c) => c.registry))].join(', ')}`).join('; ')})`, `Add an "auths" entry keyed ${registry} (the registry's host[:port], as the image names it) to ${given.map((a) => `the ${a.from}`).join(' or ')}.`]
        : missing.length
          ? [`the registry asks for credentials, and the ${missing.map((a) => a.from).join(', ')} that would hold them was not given`, `Give the run ${missing.map((a) => a.name).join(' or ')}, a Docker config.json with an "auths" entry for ${registry}: nestor run --secret ${missing[0]!.name} (from your environment) or --secret ${missing[0]!.name}=VALUE.`]
          : [`the registry asks for credentials, and the pipeline gives none`, `In a Drone file name a secret holding a Docker config.json in image_pull_secrets; in a GitLab file give DOCKER_AUTH_CONFIG (nestor run --secret DOCKER_AUTH_CONFIG); or put the image on the host engine (docker login ${registry}, then docker pull ${image}): Nestor serves the host's images to every job.`];
    // The engine's own words, without the Engine API's wrapping of them.
    const said = why.replace(/^\(HTTP code \d+\) [^-]*- /, '').trim();
    super('NESTOR_IMAGE_PULL_UNAUTHORIZED', `Image ${image} cannot be pulled from ${registry}: ${cause} (${said})`, hint);
  }
}
