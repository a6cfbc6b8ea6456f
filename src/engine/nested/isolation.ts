import type Docker from 'dockerode';

/**
 * How strongly a nested engine is fenced off from the host, from fastest to safest.
 * - `socket`: no nested daemon; jobs get the host's socket (the Petazzoni way). Fast, not isolated.
 * - `dind`: a privileged sidecar running its own dockerd.
 * - `dind-caps`: the same without `--privileged`, with an explicit capability set, for kernels
 *   or sandboxes that refuse some capability (`unable to apply caps`).
 *   These three give a job root on the host (any all-capabilities container in the host's user
 *   namespace is root there): for work an operator marks trusted, never the default.
 * - `rootless`: the nested dockerd runs in a user namespace (rootlesskit) as an ordinary user in
 *   a sidecar that is not privileged: root and every capability in the job are nobody on the host.
 * - `sysbox`, `runcvm`, `kata`: the sidecar runs under that OCI runtime, which supplies the
 *   isolation (a user namespace or a VM), so it needs no privilege on the host.
 * - `auto`: the strongest of those the host offers: sysbox, kata, runcvm, then rootless.
 */
export const ISOLATION_MODES = ['auto', 'socket', 'dind', 'dind-caps', 'rootless', 'sysbox', 'runcvm', 'kata'] as const;
export type IsolationMode = (typeof ISOLATION_MODES)[number];
export type ResolvedIsolation = Exclude<IsolationMode, 'auto'>;

/** Modes in which a job can become root on the host: only for work an operator trusts. */
export const HOST_PRIVILEGED_MODES: readonly ResolvedIsolation[] = ['socket', 'dind', 'dind-caps'];

export function givesHostRoot(mode: IsolationMode): boolean {
  return (HOST_PRIVILEGED_MODES as readonly string[]).includes(mode);
}

/** What each mode protects against, for `nestor doctor` and the docs. */
export const PROTECTS: Record<ResolvedIsolation, { host: boolean; otherJobs: boolean; network: boolean; note: string }> = {
  socket: { host: false, otherJobs: false, network: true, note: 'the host engine itself: a job can start any container on the host, as root' },
  dind: { host: false, otherJobs: true, network: true, note: 'privileged sidecar: root in the job is root on the host' },
  'dind-caps': { host: false, otherJobs: true, network: true, note: 'all capabilities, host cgroups writable: root in the job is root on the host' },
  rootless: { host: true, otherJobs: true, network: true, note: 'user namespace: root in the job is an unprivileged user on the host; no --privileged inside' },
  sysbox: { host: true, otherJobs: true, network: true, note: 'user namespace and virtualised /proc, /sys by the sysbox runtime' },
  runcvm: { host: true, otherJobs: true, network: true, note: 'a micro-VM per engine' },
  kata: { host: true, otherJobs: true, network: true, note: 'a VM per engine' },
};

/** The OCI runtime name each VM/user-namespace mode needs registered with the host engine. */
export const RUNTIME_OF: Partial<Record<ResolvedIsolation, string>> = {
  sysbox: 'sysbox-runc',
  runcvm: 'runcvm',
  kata: 'kata-runtime',
};

export function isIsolationMode(value: string): value is IsolationMode {
  return (ISOLATION_MODES as readonly string[]).includes(value);
}

/** What dind-caps leaves out; the engine's runc leaves it out of its containers too (daemon-args.ts). */
export const DIND_CAPS_DROPPED = ['SYS_RESOURCE'] as const;

/**
 * The host-config part that differs per mode. `cgroupBind` exists so that `doctor` and the
 * tests can provoke the failure a missing cgroup mount causes.
 */
export function isolationHostConfig(
  mode: Exclude<ResolvedIsolation, 'socket'>,
  opts: { cgroupBind: boolean; runtime?: string },
): Docker.HostConfig {
  switch (mode) {
    case 'dind':
      return { Privileged: true };
    case 'dind-caps':
      return {
        CapAdd: ['ALL'],
        // CAP_SYS_RESOURCE is the one sandboxes most often leave out of the bounding set.
        CapDrop: [...DIND_CAPS_DROPPED],
        SecurityOpt: ['seccomp=unconfined', 'apparmor=unconfined'],
        DeviceCgroupRules: ['a *:* rwm'],
        // Without a writable cgroup tree the nested dockerd cannot create its containers'
        // cgroups: "mkdir /sys/fs/cgroup/cpuset/docker: read-only file system".
        Binds: opts.cgroupBind ? ['/sys/fs/cgroup:/sys/fs/cgroup:rw'] : [],
      };
    case 'rootless':
      return {
        // What the short set-up as root needs (make the tun device usable, hand the data root
        // and certificates to the rootless user), and what newuidmap, a setuid helper, needs to
        // write the user namespace's id map. The entry drops every one of them before dockerd.
        CapDrop: ['ALL'],
        CapAdd: ['SETUID', 'SETGID', 'SYS_ADMIN', 'DAC_OVERRIDE', 'FOWNER', 'CHOWN'],
        Devices: [{ PathOnHost: '/dev/net/tun', PathInContainer: '/dev/net/tun', CgroupPermissions: 'rwm' }],
        // rootlesskit makes namespaces and mounts /proc in them: blocked by the default seccomp
        // and AppArmor profiles and by the masked /proc paths, none of which protect the host
        // once nothing in the sidecar is privileged there.
        // (`--security-opt systempaths=unconfined` on the command line is these two empty lists.)
        SecurityOpt: ['seccomp=unconfined', 'apparmor=unconfined'],
        MaskedPaths: [],
        ReadonlyPaths: [],
      };
    case 'sysbox':
      // Sysbox virtualises /proc, /sys and cgroups itself: no privilege, no binds.
      return { Runtime: opts.runtime ?? RUNTIME_OF.sysbox };
    case 'runcvm':
      // RunCVM boots the container as a micro-VM; the nested dockerd is root in the VM only.
      return { Runtime: opts.runtime ?? RUNTIME_OF.runcvm, Privileged: true };
    case 'kata':
      // Kata maps --privileged onto the guest VM, not the host (privileged_without_host_devices).
      return { Runtime: opts.runtime ?? RUNTIME_OF.kata, Privileged: true };
  }
}

/** Messages with which a host refuses a privileged container: the signal to fall back. */
export function refusesPrivileged(message: string): boolean {
  return /unable to apply caps|operation not permitted|privileged mode is incompatible|privileged containers are not allowed/i.test(
    message,
  );
}
