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

/**
 * `name[:tag][@digest]` split as the Engine API's tag, import and push calls and the registry
 * API want it: the name with its registry and port (`host:5000/team/app`), the tag (`latest`
 * when none is written), and the digest when there is one. A colon before the name's last
 * slash is a registry's port, never a tag; the digest's own colon (`sha256:…`) is not one either.
 * The one place image names are split; parseReference builds on it.
 */
export function splitTag(image: string): [name: string, tag: string, digest?: string] {
  let name = image.trim();
  let digest: string | undefined;
  const at = name.indexOf('@');
  if (at >= 0) {
    digest = name.slice(at + 1);
    name = name.slice(0, at);
  }
  let tag = 'latest';
  const colon = name.lastIndexOf(':');
  if (colon > name.lastIndexOf('/')) {
    tag = name.slice(colon + 1);
    name = name.slice(0, colon);
  }
  return digest ? [name, tag, digest] : [name, tag];
}

export function parseReference(name: string): ImageReference {
  const [repositoryName, tag, digest] = splitTag(name);
  let rest = repositoryName;
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
