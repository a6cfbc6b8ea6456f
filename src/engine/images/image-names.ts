/** Images Nestor uses, and the local stand-ins it builds where nothing can be pulled. */
export const OFFICIAL_DIND_IMAGE = 'docker:dind';
/** Versioned by what it holds: a new tag makes `images bootstrap` build it again. */
export const LOCAL_DIND_IMAGE = 'nestor/dind:bookworm-2';
export const LOCAL_BASE_IMAGE = 'nestor/base:busybox';
/** The base image is also offered under its usual name when the host has no busybox. */
export const BASE_ALIAS = 'busybox:latest';
export const OFFICIAL_REGISTRY_IMAGE = 'registry:2';
export const LOCAL_REGISTRY_IMAGE = 'nestor/registry:local';
