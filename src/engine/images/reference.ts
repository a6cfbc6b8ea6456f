/**
 * An image name split the way registries see it. `alpine:3.19`, `library/alpine:3.19` and
 * `docker.io/library/alpine:3.19` are the same image: registry docker.io, repository
 * library/alpine, tag 3.19.
 */
export interface ImageReference {
  registry: string;
  repository: string;
  tag: string;
  digest?: string;
}

export const DOCKER_HUB = 'docker.io';

export function parseReference(name: string): ImageReference {
  let rest = name.trim();
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
  }
  let tag = 'latest';
  const colon = rest.lastIndexOf(':');
  if (colon > rest.lastIndexOf('/')) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  }
  let registry = DOCKER_HUB;
  const slash = rest.indexOf('/');
  const first = slash >= 0 ? rest.slice(0, slash) : '';
  if (first && (first.includes('.') || first.includes(':') || first === 'localhost')) {
    registry = first === 'index.docker.io' || first === 'registry-1.docker.io' ? DOCKER_HUB : first;
    rest = rest.slice(slash + 1);
  }
  const repository = registry === DOCKER_HUB && !rest.includes('/') ? `library/${rest}` : rest;
  return { registry, repository, tag, ...(digest ? { digest } : {}) };
}

/** The name the host engine knows a Docker Hub image by (`alpine:3.19`, `org/app:1`). */
export function hostName(ref: ImageReference): string {
  const repo = ref.registry === DOCKER_HUB ? ref.repository.replace(/^library\//, '') : `${ref.registry}/${ref.repository}`;
  return ref.digest ? `${repo}@${ref.digest}` : `${repo}:${ref.tag}`;
}
