import type { PipelineNotice, PipelineProblem } from '../errors.ts';
import { ExpressionError, type ExpressionScope } from '../github/expression.ts';
import { fill } from '../github/templates.ts';
import { GITHUB_WORKSPACE } from '../github/contexts.ts';
import type { ServiceConfig, VolumeRef } from '../model.ts';
import type { PathSegment, YamlSource } from '../yaml-source.ts';
import type { containerSchema } from './github-schema.ts';
import type { z } from 'zod';

/**
 * A job's `container:` and its `services:`, as GitHub makes them: an image with its env,
 * volumes and `docker create` options. Every container of a Nestor job shares its engine's
 * network, so a service answers both by its name and at localhost:PORT, as it does on GitHub
 * in container jobs and runner jobs respectively. `--health-cmd` and its kin are what GitHub
 * waits on; Nestor waits until the service's ports accept connections, which for databases
 * comes after their start-up is done.
 */

type Written = z.infer<typeof containerSchema>;

export interface JobContainer {
  image: string;
  environment: Record<string, string>;
  privileged: boolean;
  volumes: VolumeRef[];
  user?: string;
}

export function containerOf(source: YamlSource, written: Written, at: PathSegment[], scope: ExpressionScope, problems: PipelineProblem[], notices: PipelineNotice[]): JobContainer | undefined {
  const c = typeof written === 'string' ? { image: written } : written;
  const image = text(source, c.image, at, 'image', scope, problems);
  if (!image) return undefined;
  const options = readOptions(source, 'options' in c ? c.options : undefined, at, scope, problems, notices);
  if ('credentials' in c && c.credentials) notices.push(source.notice(at, 'credentials', 'NESTOR_CREDENTIALS_UNUSED', `credentials: the image is pulled with the run's registry credentials (a DOCKER_AUTH_CONFIG secret), not with this username and password`, 'degraded'));
  if ('ports' in c && c.ports?.length) notices.push(source.notice(at, 'ports', 'NESTOR_PORTS_INTERNAL', 'ports: the job container shares its engine\'s network with the job\'s services; nothing outside the job reaches it', 'info'));
  return {
    image,
    environment: { ...envOf('env' in c ? c.env : undefined), ...options.env },
    privileged: options.privileged,
    volumes: [...volumesOf(source, 'volumes' in c ? c.volumes : undefined, [...at, 'volumes'], scope, problems), ...options.volumes],
    ...(options.user !== undefined ? { user: options.user } : {}),
  };
}

/**
 * A service, and for each `HOST:CONTAINER` port whose numbers differ a forwarder from HOST to
 * the service's CONTAINER port: on GitHub a runner job reaches `ports: ['5433:5432']` at
 * localhost:5433, and the job's containers here share one network, where 5433 must answer too.
 */
export function servicesOf(source: YamlSource, name: string, written: Written, at: PathSegment[], scope: ExpressionScope, problems: PipelineProblem[], notices: PipelineNotice[]): ServiceConfig[] {
  const service = serviceOf(source, name, written, at, scope, problems, notices);
  const forwarders = service.published.map(({ host, inner }) => ({
    name: `${name}-port-${host}`,
    image: FORWARDER_IMAGE,
    aliases: [],
    environment: {},
    // busybox's nc: listen for ever (-ll), each connection piped to a new one to the service.
    commands: [`exec nc -ll -p ${host} -e nc ${name} ${inner}`],
    ports: [host],
    privileged: false,
    volumes: [],
    at: [...at, 'ports'],
  }));
  const { published: _published, ...own } = service;
  return [own, ...forwarders];
}

/** What the port forwarders run in: the small image every job engine has (Nestor's default step image). */
const FORWARDER_IMAGE = 'busybox:latest';

function serviceOf(source: YamlSource, name: string, written: Written, at: PathSegment[], scope: ExpressionScope, problems: PipelineProblem[], notices: PipelineNotice[]): ServiceConfig & { published: { host: number; inner: number }[] } {
  const c = typeof written === 'string' ? { image: written } : written;
  const image = text(source, c.image, at, 'image', scope, problems);
  const options = readOptions(source, 'options' in c ? c.options : undefined, at, scope, problems, notices);
  if ('credentials' in c && c.credentials) notices.push(source.notice(at, 'credentials', 'NESTOR_CREDENTIALS_UNUSED', `credentials: the service's image is pulled with the run's registry credentials (a DOCKER_AUTH_CONFIG secret), not with this username and password`, 'degraded'));
  const ports: number[] = [];
  const published: { host: number; inner: number }[] = [];
  for (const [i, p] of (('ports' in c ? c.ports : undefined) ?? []).entries()) {
    const m = /^(?:(\d+):)?(\d+)(?:\/(tcp|udp))?$/.exec(String(p).trim());
    if (!m) {
      problems.push({ position: source.position([...at, 'ports', i]), message: `port ${String(p)} is not PORT or HOST:CONTAINER` });
      continue;
    }
    const inner = Number(m[2]);
    if (m[3] !== 'udp') ports.push(inner);
    if (m[1] !== undefined && Number(m[1]) !== inner && m[3] !== 'udp') {
      published.push({ host: Number(m[1]), inner });
      notices.push(source.notice([...at, 'ports', i], undefined, 'NESTOR_SERVICE_PORT', `service ${name}: port ${m[1]}:${inner} is reached at localhost:${m[1]} (forwarded to the service), and at ${name}:${inner} and localhost:${inner}, since the job shares the service's network`, 'info'));
    } else if (m[3] === 'udp' && m[1] !== undefined && Number(m[1]) !== inner) {
      notices.push(source.notice([...at, 'ports', i], undefined, 'NESTOR_SERVICE_PORT', `service ${name}: udp port ${m[1]}:${inner} is reached at ${name}:${inner} only; UDP ports are not forwarded`, 'degraded'));
    }
  }
  return {
    name,
    image: image ?? '',
    aliases: [...new Set([name, ...options.aliases])],
    environment: { ...envOf('env' in c ? c.env : undefined), ...options.env },
    commands: [],
    ...(options.entrypoint ? { entrypoint: [options.entrypoint] } : {}),
    ports,
    ...(options.healthCmd !== undefined ? { readyCommand: options.healthCmd } : {}),
    published,
    privileged: options.privileged,
    volumes: [...volumesOf(source, 'volumes' in c ? c.volumes : undefined, [...at, 'volumes'], scope, problems), ...options.volumes],
    at,
  };
}

function text(source: YamlSource, value: string, at: PathSegment[], key: string, scope: ExpressionScope, problems: PipelineProblem[]): string | undefined {
  try {
    return fill(value, scope).trim() || undefined;
  } catch (err) {
    if (!(err instanceof ExpressionError)) throw err;
    problems.push({ position: source.position(at, key), message: err.message });
    return undefined;
  }
}

function envOf(env: Record<string, unknown> | string | undefined): Record<string, string> {
  if (!env || typeof env === 'string') return {};
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? '' : String(v)]));
}

/**
 * `SOURCE:TARGET[:ro]`, expressions filled first (`${{ github.workspace }}/config:/config`): a
 * source in the workspace is that folder of the job's workspace, as the runner's checkout is on GitHub.
 */
function volumesOf(source: YamlSource, volumes: string[] | undefined, at: PathSegment[], scope: ExpressionScope, problems: PipelineProblem[]): VolumeRef[] {
  return (volumes ?? []).flatMap((written, i) => {
    const v = written.includes('${{') ? text(source, written, [...at, i], '', scope, problems) ?? '' : written;
    const [filled, target, mode] = v.split(':');
    const src = filled === GITHUB_WORKSPACE ? '.' : filled?.startsWith(`${GITHUB_WORKSPACE}/`) ? `./${filled.slice(GITHUB_WORKSPACE.length + 1)}` : filled;
    if (!src) return [];
    // `- /data` alone is an anonymous volume at /data.
    return [{ source: target ? src : `anon-${i}`, target: target ?? src, readOnly: mode === 'ro', at: [...at, i] }];
  });
}

interface Options {
  privileged: boolean;
  user?: string;
  env: Record<string, string>;
  volumes: VolumeRef[];
  aliases: string[];
  entrypoint?: string;
  healthCmd?: string;
}

/** `docker create` options GitHub passes through, read as Docker reads them. */
const IGNORED_WITH_REASON: Record<string, string> = {
  '--health-interval': 'readiness',
  '--health-timeout': 'readiness',
  '--health-retries': 'readiness',
  '--health-start-period': 'readiness',
  '--cpus': 'limits',
  '--memory': 'limits',
  '-m': 'limits',
  '--shm-size': 'limits',
  '--ulimit': 'limits',
  '--init': 'init',
  '--hostname': 'name',
  '--name': 'name',
  '--rm': 'name',
};

function readOptions(source: YamlSource, written: string | undefined, at: PathSegment[], scope: ExpressionScope, problems: PipelineProblem[], notices: PipelineNotice[]): Options {
  const out: Options = { privileged: false, env: {}, volumes: [], aliases: [] };
  if (!written) return out;
  const filled = text(source, written, at, 'options', scope, problems) ?? '';
  const words = [...filled.matchAll(/"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3]!);
  const kinds = new Set<string>();
  const unknown: string[] = [];
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    const [flag, inline] = word.includes('=') && word.startsWith('-') ? [word.slice(0, word.indexOf('=')), word.slice(word.indexOf('=') + 1)] : [word, undefined];
    const value = () => inline ?? words[++i] ?? '';
    switch (flag) {
      case '--privileged':
        out.privileged = inline === undefined || inline === 'true';
        break;
      case '--user':
      case '-u':
        out.user = value();
        break;
      case '-e':
      case '--env': {
        const [k, ...v] = value().split('=');
        if (k) out.env[k] = v.join('=');
        break;
      }
      case '-v':
      case '--volume': {
        const [src, target, mode] = value().split(':');
        if (src && target) out.volumes.push({ source: src, target, readOnly: mode === 'ro', at: [...at, 'options'] });
        break;
      }
      case '--cap-add':
        // Capabilities are given inside the job's user namespace only: there, privileged is the set of them all.
        value();
        out.privileged = true;
        kinds.add('caps');
        break;
      case '--network-alias':
        out.aliases.push(value());
        break;
      case '--entrypoint':
        out.entrypoint = value();
        break;
      case '--health-cmd':
        out.healthCmd = value();
        break;
      default:
        if (flag in IGNORED_WITH_REASON) {
          kinds.add(IGNORED_WITH_REASON[flag]!);
          if (inline === undefined && !['--init', '--rm'].includes(flag)) i++;
        } else if (flag.startsWith('-')) {
          unknown.push(flag);
          if (inline === undefined && words[i + 1] !== undefined && !words[i + 1]!.startsWith('-')) i++;
        }
    }
  }
  if (out.healthCmd !== undefined) notices.push(source.notice(at, 'options', 'NESTOR_HEALTH_CMD', `options: the job waits until --health-cmd passes inside the service, tried every 250 ms${kinds.has('readiness') ? ' (its interval, timeout and retries give way to that, within the job\'s service timeout)' : ''}`, 'info'));
  else if (kinds.has('readiness')) notices.push(source.notice(at, 'options', 'NESTOR_HEALTH_BY_PORTS', 'options: with no --health-cmd, the job waits until the container\'s ports accept connections', 'info'));
  if (kinds.has('caps')) notices.push(source.notice(at, 'options', 'NESTOR_CAPS_AS_PRIVILEGED', 'options: --cap-add gives the container every capability inside the job\'s user namespace (privileged there), none on the host', 'info'));
  if (kinds.has('limits')) notices.push(source.notice(at, 'options', 'NESTOR_LIMITS_OWN', 'options: the container runs within its job engine\'s limits (memory, CPUs, processes) rather than these', 'info'));
  if (unknown.length) notices.push(source.notice(at, 'options', 'NESTOR_OPTION_UNSUPPORTED', `options ${unknown.join(', ')} ${unknown.length > 1 ? 'are' : 'is'} not applied: Nestor makes the container itself (privileged, user, env, volumes, entrypoint and network aliases are read)`, 'degraded'));
  return out;
}
