import type { AddressPool } from './address-pools.ts';

/** Options for the nested dockerd, the same knobs as daemon.json. */
export interface DaemonOptions {
  storageDriver?: string;
  logDriver?: string;
  logOpts?: Record<string, string>;
  registryMirrors?: string[];
  insecureRegistries?: string[];
  /**
   * Where the daemon cuts its own networks from (docker0 and the networks jobs make) instead
   * of Docker's defaults: the image supply leaves out the subnet its mirror listens on.
   */
  defaultAddressPools?: AddressPool[];
  mtu?: number;
  cgroupDriver?: 'cgroupfs' | 'systemd';
  cgroupParent?: string;
  debug?: boolean;
  /**
   * Any other daemon.json settings (`default-runtime`, `runtimes`, `features`…), written to
   * DAEMON_CONFIG_FILE in the sidecar. None of DAEMON_KEYS_SET_BY_NESTOR: dockerd refuses to
   * start when a setting is given both as a flag and in its file.
   */
  config?: Record<string, unknown>;
}

export const DAEMON_CONFIG_FILE = '/nestor/daemon.json';

/**
 * daemon.json keys that Nestor gives the nested dockerd as flags (or may, depending on the
 * host and the mode), each with what to set instead. Written in the file too, the daemon would
 * not start ("specified both as a flag and in the configuration file").
 */
export const DAEMON_KEYS_SET_BY_NESTOR: Record<string, string> = {
  hosts: 'Nestor serves the engine over TLS on its own port',
  tls: 'Nestor sets up the engine\'s TLS',
  tlsverify: 'Nestor sets up the engine\'s TLS',
  tlscacert: 'Nestor sets up the engine\'s TLS',
  tlscert: 'Nestor sets up the engine\'s TLS',
  tlskey: 'Nestor sets up the engine\'s TLS',
  'data-root': 'Nestor places the engine\'s storage',
  'storage-driver': 'Nestor chooses the storage driver (it shares the host\'s image layers with it)',
  'log-driver': 'use engine.log.driver',
  'log-opts': 'use engine.log.max_size and engine.log.max_file',
  'registry-mirrors': 'use engine.registry_mirrors',
  'insecure-registries': 'use engine.insecure_registries',
  'default-address-pools': 'Nestor chooses the address pools (around its image mirror\'s subnet)',
  mtu: 'Nestor sets the MTU from the host\'s uplink',
  'exec-opts': 'Nestor sets the cgroup driver',
  'cgroup-parent': 'Nestor nests the engine\'s containers in its own cgroup',
};

export const ENGINE_PORT = 2376;
export const CERT_DIR = '/nestor/certs';
export const CLIENT_CERT_DIR = '/nestor/certs/client';

/** The dockerd command line: TLS on 2376 and a local socket, then the user's options. */
export function daemonArgs(opts: DaemonOptions): string[] {
  const args = [
    'dockerd',
    `--host=tcp://0.0.0.0:${ENGINE_PORT}`,
    '--host=unix:///var/run/docker.sock',
    '--tlsverify',
    `--tlscacert=${CERT_DIR}/ca.pem`,
    `--tlscert=${CERT_DIR}/server-cert.pem`,
    `--tlskey=${CERT_DIR}/server-key.pem`,
  ];
  if (opts.storageDriver) args.push(`--storage-driver=${opts.storageDriver}`);
  if (opts.logDriver) args.push(`--log-driver=${opts.logDriver}`);
  for (const [k, v] of Object.entries(opts.logOpts ?? {})) args.push(`--log-opt=${k}=${v}`);
  for (const m of opts.registryMirrors ?? []) args.push(`--registry-mirror=${m}`);
  for (const r of opts.insecureRegistries ?? []) args.push(`--insecure-registry=${r}`);
  for (const p of opts.defaultAddressPools ?? []) args.push(`--default-address-pool=base=${p.base},size=${p.size}`);
  if (opts.mtu) args.push(`--mtu=${opts.mtu}`);
  if (opts.cgroupDriver) args.push(`--exec-opt=native.cgroupdriver=${opts.cgroupDriver}`);
  if (opts.cgroupParent) args.push(`--cgroup-parent=${opts.cgroupParent}`);
  if (opts.debug) args.push('--debug');
  if (opts.config) args.push(`--config-file=${DAEMON_CONFIG_FILE}`);
  return args;
}

import { SEED_SCRIPT } from './shared-layers.ts';
import { ROOTLESS_USER } from '../images/image-names.ts';

/**
 * Run before dockerd inside the sidecar. On cgroup v2 the sidecar's processes must leave the
 * root of their cgroup namespace before dockerd can delegate controllers to its containers.
 */
export const ENTRY_SCRIPT = String.raw`#!/bin/sh
set -e
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then
  mkdir -p /sys/fs/cgroup/nestor-init
  for pid in $(cat /sys/fs/cgroup/cgroup.procs); do echo "$pid" > /sys/fs/cgroup/nestor-init/cgroup.procs 2>/dev/null || true; done
  sed -e 's/ / +/g' -e 's/^/+/' < /sys/fs/cgroup/cgroup.controllers > /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null || true
fi
# cgroup v1 with the host's tree mounted (dind-caps): put the nested containers under this
# sidecar's own cgroup, so the engine's memory and CPU limits bound everything it runs.
if [ "$NESTOR_CGROUP_NEST" = 1 ] && [ ! -f /sys/fs/cgroup/cgroup.controllers ]; then
  parent=$(sed -n 's/^[0-9]*:memory:\(.*\)$/\1/p' /proc/self/cgroup)
  if [ -n "$parent" ] && [ "$parent" != / ]; then set -- "$@" "--cgroup-parent=$parent/nested"; fi
fi
mkdir -p /var/run /var/lib/docker
rm -f /var/run/docker.pid
# An engine that lacks capabilities (dind-caps: the host's bounding set has no SYS_RESOURCE)
# runs its containers through a runc that leaves those out of each container's sets: a job's
# own \`docker run --privileged\` (a dind container of its own) then starts, with every
# capability this engine has, instead of failing with "unable to apply caps".
if [ -n "$NESTOR_DROPPED_CAPS" ] && [ "$NESTOR_ROOTLESS" != 1 ]; then
  {
    echo '#!/bin/sh'
    # A container's spec is its bundle's config.json (create); an exec's, its --process file.
    echo 'prev=; files=; for a in "$@"; do case "$prev" in --bundle|-b) files="$files $a/config.json";; --process|-p) files="$files $a";; esac; prev=$a; done'
    echo 'for f in $files; do [ -f "$f" ] || continue'
    for cap in $NESTOR_DROPPED_CAPS; do
      echo "  sed -z -E -i -e 's/\"$cap\"\\s*,\\s*//g' -e 's/,\\s*\"$cap\"//g' -e 's/\"$cap\"//g' \"\$f\""
    done
    echo 'done'
    echo 'exec runc "$@"'
  } > /nestor/runc-within-caps
  chmod 0755 /nestor/runc-within-caps
  # The operator's daemon.json names runtimes of its own (NESTOR_OWN_RUNTIME): theirs are used,
  # as flags and file may not both set them.
  if [ "$NESTOR_OWN_RUNTIME" != 1 ]; then
    set -- "$@" --add-runtime=nestor-runc=/nestor/runc-within-caps --default-runtime=nestor-runc
  fi
fi
${SEED_SCRIPT}
if [ "$NESTOR_ROOTLESS" = 1 ]; then
  # Root for a moment only: this container's own tun node, the data root and the engine's
  # certificates go to the rootless user, who then runs everything with no capability left
  # (newuidmap, a setuid helper, is the one thing that is briefly root again, to write the
  # user namespace's id map). Inside, rootlesskit forwards the TLS port out of the namespace.
  # slirp4netns keeps its seccomp filter; its mount sandbox (~170 ms an engine) adds nothing
  # here: it runs as the unprivileged user in this sidecar's own namespaces either way.
  chmod 0666 /dev/net/tun
  mkdir -p /run/user/${ROOTLESS_USER.uid}
  chown ${ROOTLESS_USER.uid}:${ROOTLESS_USER.uid} /run/user/${ROOTLESS_USER.uid} /var/lib/docker
  chmod 0700 /run/user/${ROOTLESS_USER.uid}
  chown -R ${ROOTLESS_USER.uid}:${ROOTLESS_USER.uid} ${CERT_DIR}
  [ "$1" = dockerd ] && shift
  exec setpriv --reuid=${ROOTLESS_USER.uid} --regid=${ROOTLESS_USER.uid} --init-groups --inh-caps=-all \
    --bounding-set=-all,+setuid,+setgid,+sys_admin,+dac_override \
    env HOME=/home/${ROOTLESS_USER.name} XDG_RUNTIME_DIR=/run/user/${ROOTLESS_USER.uid} \
    DOCKERD_ROOTLESS_ROOTLESSKIT_FLAGS="-p 0.0.0.0:${ENGINE_PORT}:${ENGINE_PORT}/tcp" \
    /usr/share/docker.io/contrib/dockerd-rootless.sh --data-root=/var/lib/docker "$@"
fi
exec "$@"
`;
