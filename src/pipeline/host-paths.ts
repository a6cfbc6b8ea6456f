import { posix } from 'node:path';

/**
 * What a host path written in a pipeline file is for, as far as an untrusted job (which gets
 * nothing of the host's) is concerned. Real files mount host paths for two reasons that lose
 * nothing when the path is not the host's: the host's name files, which every container has of
 * its own, caches, which only save time, and scratch space (a host folder at `/tmp`), which
 * nothing reads after the job. Anything else is data the job reads or leaves for
 * the host, and not having it changes what the job does.
 */
export type HostPathUse = 'container-file' | 'cache' | 'scratch' | 'data';

/**
 * What every container is given by its engine: the host's name files would be wrong inside the
 * job's network, and a container running systemd (a privileged one, as files that mount it
 * are) gets a writable cgroup filesystem of its own, inside the job's engine.
 */
const CONTAINER_FILES = new Set(['/etc/hosts', '/etc/resolv.conf', '/etc/hostname', '/sys/fs/cgroup']);

/**
 * Where tools keep what they can fetch or build again: package managers' and compilers'
 * caches, Go's module and build caches under GOPATH, installed node_modules, a Docker engine's
 * own storage (a dind service's layer cache), and the folders of the cache plugins of Drone and
 * Woodpecker.
 */
const CACHE_TARGETS: RegExp[] = [
  /(^|\/)\.cache(\/|$)/,
  /(^|\/)cache(s)?(\/|$)/i,
  /^\/go(\/pkg(\/mod)?)?$/,
  /^\/root\/go(\/pkg(\/mod)?)?$/,
  /(^|\/)\.(npm|yarn|pnpm-store|m2|gradle|ivy2|sbt|composer|bundle|gem|nuget|cargo|rustup|ccache|sccache|pub-cache|stack|cabal|mix|hex|conan)(\/|$)/,
  /^\/usr\/local\/(cargo|rustup)(\/|$)/,
  /^\/usr\/local\/share\/\.cache(\/|$)/,
  /^\/var\/lib\/docker$/,
  // What `npm install` or `yarn` fills from the lock file again.
  /(^|\/)node_modules$/,
];

/** A host path whose own name says what it is kept for (`/tmp/drone-cache`, `/var/cache/ci/go`). */
const CACHE_HOST = /(^|[/_.-])cache(s|d)?([/_.-]|$)/i;

export function hostPathUse(hostPath: string, target: string): HostPathUse {
  const path = posix.normalize(target).replace(/\/$/, '');
  if (CONTAINER_FILES.has(posix.normalize(hostPath).replace(/\/$/, '')) && CONTAINER_FILES.has(path)) return 'container-file';
  if (path === '/tmp' || path === '/var/tmp') return 'scratch';
  if (CACHE_TARGETS.some((re) => re.test(path)) || CACHE_HOST.test(hostPath)) return 'cache';
  return 'data';
}
