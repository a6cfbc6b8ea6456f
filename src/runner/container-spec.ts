import type Docker from 'dockerode';
import { CLIENT_CERT_DIR } from '../engine/nested/daemon-args.ts';
import { nestorLabels, type Role } from '../engine/labels.ts';
import type { PlanContainer, PlanMount } from '../pipeline/plan.ts';
import { usesHostSocket, type JobContext } from './job-context.ts';

const ENGINE_SOCKET = '/var/run/docker.sock';

/** Docker's definition of a step or service container of a job. */
export function containerOptions(
  ctx: JobContext,
  c: PlanContainer,
  role: Role,
  aliases: string[],
): Docker.ContainerCreateOptions {
  const socketMode = usesHostSocket(ctx);
  const env = { ...c.environment };
  const binds = c.mounts.flatMap((m) => bindOf(ctx, m, socketMode));
  if (socketMode && env.DOCKER_HOST?.startsWith('tcp://')) {
    // The job uses the host engine itself: talk to it over the socket, which is mounted here.
    env.DOCKER_HOST = `unix://${ENGINE_SOCKET}`;
    delete env.DOCKER_TLS_VERIFY;
    delete env.DOCKER_CERT_PATH;
    binds.push(`${ENGINE_SOCKET}:${ENGINE_SOCKET}`);
  }
  for (const s of c.secrets) env[s.env] = ctx.secrets[s.name] ?? '';
  const network = c.networkMode ?? ctx.network;
  return {
    Image: c.image,
    ...(c.script !== undefined
      ? { Entrypoint: ['/bin/sh', '-c'], Cmd: [c.script] }
      : { ...(c.entrypoint ? { Entrypoint: c.entrypoint } : {}), ...(c.command ? { Cmd: c.command } : {}) }),
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    WorkingDir: c.workingDir,
    Labels: nestorLabels(role, { ...ctx.labels, 'dev.nestor.container': c.name }),
    HostConfig: {
      Binds: binds,
      ...privilegeOf(ctx, c.privileged),
      NetworkMode: network,
      ExtraHosts: network === 'host' ? [...new Set([...c.engineAliases, ...ctx.localNames])].map((a) => `${a}:127.0.0.1`) : [],
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

function bindOf(ctx: JobContext, m: PlanMount, socketMode: boolean): string[] {
  const ro = (readOnly: boolean) => (readOnly ? ':ro' : '');
  switch (m.kind) {
    case 'workspace':
      return m.subPath && m.subPath !== '.'
        ? [`${ctx.workspaceMountpoint}/${m.subPath}:${m.target}${ro(m.readOnly)}`]
        : [`${ctx.workspaceVolume}:${m.target}${ro(m.readOnly)}`];
    case 'volume':
      return [`${ctx.volumes.get(m.name) ?? m.name}:${m.target}${ro(m.readOnly)}`];
    case 'host':
      return [`${m.path}:${m.target}${ro(m.readOnly)}`];
    case 'engine-run':
      return [`/var/run:${m.target}`];
    case 'engine-socket':
      return [`${ENGINE_SOCKET}:${m.target}`];
    case 'engine-certs':
      return socketMode ? [] : [`${CLIENT_CERT_DIR}:${m.target}:ro`];
  }
}
