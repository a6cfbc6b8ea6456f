import type Docker from 'dockerode';
import { nestorLabels } from '../../engine/labels.ts';
import type { MountIntent, PlanContainer } from '../../pipeline/plan.ts';
import { engineAccess, engineSocketBind, transportOf } from './engine-transport.ts';
import type { JobContext } from './job-context.ts';

/** Docker's definition of a step or service container of a job. */
export function containerOptions(
  ctx: JobContext,
  c: PlanContainer,
  role: 'step' | 'service',
  aliases: string[],
): Docker.ContainerCreateOptions {
  const access = engineAccess(transportOf(ctx.engine), c.engine, role, c.environment, c.mounts, ctx.plainPort);
  const env = access.environment;
  const binds = [...c.mounts.map((m) => bindOf(ctx, m)), ...access.binds];
  for (const s of c.secrets) env[s.env] = ctx.secrets[s.name] ?? '';
  const network = c.networkMode ?? ctx.network;
  return {
    Image: c.image,
    ...(c.script !== undefined
      ? { Entrypoint: ['/bin/sh', '-c'], Cmd: [c.script] }
      : { ...(c.entrypoint ? { Entrypoint: c.entrypoint } : {}), ...(c.command ? { Cmd: c.command } : {}) }),
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    WorkingDir: c.workingDir,
    ...(c.user !== undefined ? { User: c.user } : {}),
    Labels: nestorLabels(role, { ...ctx.labels, 'dev.nestor.container': c.name }),
    HostConfig: {
      Binds: binds,
      ...privilegeOf(ctx, c.privileged),
      NetworkMode: network,
      ExtraHosts: network === 'host' ? [...new Set([...ctx.engineNames, ...ctx.localNames])].map((a) => `${a}:127.0.0.1`) : [],
      // Bounded by the job engine's own limits too; these keep one runaway step from starving
      // the others (fork bombs, endless logs).
      PidsLimit: 4096,
      LogConfig: { Type: 'json-file', Config: { 'max-size': '10m', 'max-file': '2' } },
    },
    ...(network === ctx.network && network !== 'host' ? { NetworkingConfig: { EndpointsConfig: { [network]: { Aliases: aliases } } } } : {}),
  };
}

/**
 * `privileged: true`. In a user-namespace engine (rootless) a privileged container cannot start
 * (it would mount the host's sysfs), so the step gets everything the namespace can give: every
 * capability, no seccomp or AppArmor profile, no masked paths; all of it inside the job's
 * user namespace, none on the host.
 */
function privilegeOf(ctx: JobContext, privileged: boolean): Docker.HostConfig {
  if (!privileged) return { Privileged: false };
  if (ctx.engine.isolation !== 'rootless') return { Privileged: true };
  return { CapAdd: ['ALL'], SecurityOpt: ['seccomp=unconfined', 'apparmor=unconfined'], MaskedPaths: [], ReadonlyPaths: [] };
}

function bindOf(ctx: JobContext, m: MountIntent): string {
  const ro = (readOnly: boolean) => (readOnly ? ':ro' : '');
  switch (m.kind) {
    case 'workspace':
      return m.subPath && m.subPath !== '.'
        ? `${ctx.workspaceMountpoint}/${m.subPath}:${m.target}${ro(m.readOnly)}`
        : `${ctx.workspaceVolume}:${m.target}${ro(m.readOnly)}`;
    case 'volume':
      return `${ctx.volumes.get(m.name) ?? m.name}:${m.target}${ro(m.readOnly)}`;
    case 'host':
      return `${m.path}:${m.target}${ro(m.readOnly)}`;
    case 'engine-socket-dir':
    case 'engine-socket':
      return engineSocketBind(m);
  }
}
