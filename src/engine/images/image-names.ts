import { DEFAULT_RUNNER_IMAGE } from '../../config.ts';

/** Images Nestor uses, and the local stand-ins it builds where nothing can be pulled. */
export const OFFICIAL_DIND_IMAGE = 'docker:dind';
/** Versioned by what it holds: a new tag makes `images bootstrap` build it again. */
export const LOCAL_DIND_IMAGE = 'nestor/dind:bookworm-3';
/**
 * The user the rootless engine runs as, in LOCAL_DIND_IMAGE; its subordinate ids are the
 * range the job's user namespace maps root and everyone else to.
 */
export const ROOTLESS_USER = { name: 'rootless', uid: 1000, subuidStart: 100_000, subuidCount: 65_536 } as const;
/** Stands in for `docker:*-cli` where those cannot be pulled: the docker and docker-compose clients, no daemon. */
export const LOCAL_CLI_IMAGE = 'nestor/docker-cli:bookworm-3';
export const LOCAL_BASE_IMAGE = 'nestor/base:busybox';
/** The base image is also offered under its usual name when the host has no busybox. */
export const BASE_ALIAS = 'busybox:latest';
export const OFFICIAL_REGISTRY_IMAGE = 'registry:2';
export const LOCAL_REGISTRY_IMAGE = 'nestor/registry:local';
/**
 * The image GitHub-style jobs run in (runner-image.ts builds it). It is config.ts's default,
 * not a name of its own, so that what `runs-on` picks and what `images bootstrap` makes
 * cannot drift apart.
 */
export const LOCAL_RUNNER_IMAGE = DEFAULT_RUNNER_IMAGE;
/**
 * The ordinary user of LOCAL_RUNNER_IMAGE, as on GitHub's hosted runners: 1001 so that it is
 * not the first user (1000) that files made on a developer's machine usually belong to.
 */
export const RUNNER_USER = { name: 'runner', uid: 1001 } as const;
