import type Docker from 'dockerode';

/**
 * How strongly a nested engine is fenced off from the host, from fastest to safest.
 * - `socket`: no nested daemon; jobs get the host's socket (the Petazzoni way). Fast, not isolated.
 * - `dind`: a privileged sidecar running its own dockerd.
 * - `dind-caps`: the same without `--privileged`, with an explicit capability set, for kernels
 *   or sandboxes that refuse some capability (`unable to apply caps`).
 * - `sysbox`, `runcvm`, `kata`: the sidecar runs under that OCI runtime, which supplies the
 *   isolation, so it needs no privilege at all.
 * - `auto`: `dind`, falling back to `dind-caps` when the kernel refuses privileged containers.
 */
export const ISOLATION_MODES = ['auto', 'socket', 'dind', 'dind-caps', 'sysbox', 'runcvm', 'kata'] as const;
export type IsolationMode = (typeof ISOLATION_MODES)[number];
export type ResolvedIsolation = Exclude<IsolationMode, 'auto'>;

/** The OCI runtime name each VM/user-namespace mode needs registered with the host engine. */
export const RUNTIME_OF: Partial<Record<ResolvedIsolation, string>> = {
  sysbox: 'sysbox-runc',
  runcvm: 'runcvm',
  kata: 'kata-runtime',
};

export function isIsolationMode(value: string): value is IsolationMode {
  return (ISOLATION_MODES as readonly string[]).includes(value);
}

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
        CapDrop: ['SYS_RESOURCE'],
        SecurityOpt: ['seccomp=unconfined', 'apparmor=unconfined'],
        DeviceCgroupRules: ['a *:* rwm'],
        // Without a writable cgroup tree the nested dockerd cannot create its containers'
        // cgroups: "mkdir /sys/fs/cgroup/cpuset/docker: read-only file system".
        Binds: opts.cgroupBind ? ['/sys/fs/cgroup:/sys/fs/cgroup:rw'] : [],
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
