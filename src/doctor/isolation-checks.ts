import { existsSync, readFileSync } from 'node:fs';
import { PROTECTS, RUNTIME_OF, type ResolvedIsolation } from '../engine/nested/isolation.ts';
import { fail, pass, warn, type Check, type Finding } from './check.ts';

/** Why this host cannot give a job's engine a user namespace of its own, if it cannot. */
export function userNamespaceBlocker(read: (path: string) => string | undefined = readKernelSetting): { cause: string; fix: string } | undefined {
  if (read('/proc/sys/user/max_user_namespaces') === '0') {
    return { cause: 'user namespaces are switched off (user.max_user_namespaces = 0)', fix: 'sysctl -w user.max_user_namespaces=15000 (and in /etc/sysctl.d to keep it)' };
  }
  if (read('/proc/sys/kernel/unprivileged_userns_clone') === '0') {
    return { cause: 'unprivileged user namespaces are switched off (kernel.unprivileged_userns_clone = 0)', fix: 'sysctl -w kernel.unprivileged_userns_clone=1' };
  }
  if (read('/proc/sys/kernel/apparmor_restrict_unprivileged_userns') === '1') {
    return {
      cause: 'AppArmor restricts unprivileged user namespaces (Ubuntu 23.10 and later: kernel.apparmor_restrict_unprivileged_userns = 1)',
      fix: 'sysctl -w kernel.apparmor_restrict_unprivileged_userns=0, or an AppArmor profile that allows userns for rootlesskit',
    };
  }
  if (!existsSync('/dev/net/tun')) return { cause: '/dev/net/tun is missing (slirp4netns needs it for the engine\'s network)', fix: 'modprobe tun' };
  return undefined;
}

function readKernelSetting(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    return undefined;
  }
}

function protection(mode: ResolvedIsolation): string {
  const p = PROTECTS[mode];
  const guards = [p.host && 'the host', p.otherJobs && 'other jobs', p.network && 'the network'].filter(Boolean).join(', ');
  return `${mode} protects ${guards || 'nothing'} (${p.note})`;
}

/**
 * Which isolation modes this host offers and what each protects against. Untrusted jobs need a
 * mode that protects the host; without one, `auto` refuses them rather than give the host away.
 */
export const isolationModes: Check = {
  id: 'isolation',
  title: 'Isolation modes',
  needsDaemon: true,
  async run(ctx): Promise<Finding> {
    const info = (await ctx.host.docker.info()) as { Runtimes?: Record<string, unknown> };
    const runtimes = Object.keys(info.Runtimes ?? {});
    const vm = (['sysbox', 'kata', 'runcvm'] as const).filter((m) => runtimes.includes(RUNTIME_OF[m]!));
    const blocker = userNamespaceBlocker();
    const available: ResolvedIsolation[] = [...vm, ...(blocker ? [] : (['rootless'] as const)), 'dind', 'dind-caps', 'socket'];
    const lines = available.map((m) => `${protection(m)}${m === 'dind' || m === 'dind-caps' || m === 'socket' ? ' [trusted work only]' : ''}`);
    const missing = (['sysbox', 'kata', 'runcvm'] as const).filter((m) => !vm.includes(m)).map((m) => `${m} (runtime ${RUNTIME_OF[m]} not registered)`);
    const detail = `auto uses ${vm[0] ?? (blocker ? 'nothing: untrusted jobs are refused' : 'rootless')}. Available: ${lines.join('; ')}. Not here: ${[...missing, ...(blocker ? ['rootless'] : [])].join(', ') || 'none'}`;
    if (blocker) return fail(detail, { cause: `no mode that protects the host: ${blocker.cause}`, fix: blocker.fix });
    return vm.length ? pass(detail) : available.includes('rootless') ? pass(detail) : warn(detail);
  },
};
