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
