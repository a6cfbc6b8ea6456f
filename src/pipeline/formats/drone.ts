import { z } from 'zod';
import type { PipelineNotice, PipelineProblem } from '../errors.ts';
import type { ImagePull, JobVolume, PipelineConfig, ServiceConfig, StepConfig } from '../model.ts';
import { check } from '../validate.ts';
import type { PathSegment, YamlSource } from '../yaml-source.ts';
import { commandSchema, filterSchema, statusSchema, toArgv, toCondition } from '../common.ts';
import { entryPaths, nameOf, unreadable } from './items.ts';
import { environmentWithSecrets, pluginEngine, pluginSettings, pullNotice, recognised, unsupportedKeys } from './unsupported.ts';

/** Drone's `.drone.yml`, docker pipelines: the common subset, mapped onto Nestor's model. */

export const DRONE_WORKSPACE = '/drone/src';

const STEP_UNSUPPORTED = {
  dns: 'steps use the job network\'s DNS',
  extra_hosts: 'reach other steps and services by name',
  shm_size: 'not configurable per step',
};
const CONDITION_UNSUPPORTED = {};

const PIPELINE_UNSUPPORTED = {};

const envValue = z.union([z.string(), z.number(), z.boolean(), z.null(), z.strictObject({ from_secret: z.string() })]);
const condition = z.strictObject({
  ...recognised(CONDITION_UNSUPPORTED),
  branch: filterSchema.optional(),
  event: filterSchema.optional(),
  status: statusSchema.optional(),
  paths: filterSchema.optional(),
  ref: filterSchema.optional(),
  repo: filterSchema.optional(),
  instance: filterSchema.optional(),
  target: filterSchema.optional(),
  cron: filterSchema.optional(),
  action: filterSchema.optional(),
});
const mount = z.strictObject({ name: z.string(), path: z.string() });

const container = z.strictObject({
  ...recognised(STEP_UNSUPPORTED),
  name: z.string(),
  image: z.string(),
  commands: z.array(z.string()).optional(),
  command: commandSchema.optional(),
  entrypoint: commandSchema.optional(),
  environment: z.record(z.string(), envValue).optional(),
  volumes: z.array(mount).optional(),
  privileged: z.boolean().optional(),
  detach: z.boolean().optional(),
  depends_on: z.array(z.string()).optional(),
  when: condition.optional(),
  failure: z.enum(['ignore', 'always']).optional(),
  network_mode: z.string().optional(),
  working_dir: z.string().optional(),
  // Drone 0.8 wrote pull: true for pull: always.
  pull: z.union([z.string(), z.boolean()]).optional(),
  settings: z.record(z.string(), z.unknown()).optional(),
  user: z.union([z.string(), z.number()]).optional(),
  /** Drone 0.8's secrets, still read by Drone 1's converter: each exposed as its upper-case name. */
  secrets: z.array(z.union([z.string(), z.strictObject({ source: z.string(), target: z.string() })])).optional(),
  /** The Kubernetes runner's requests and limits: here the job's engine has the limits. */
  resources: z.looseObject({}).optional(),
});

const pipeline = z.strictObject({
  ...recognised(PIPELINE_UNSUPPORTED),
  kind: z.literal('pipeline'),
  type: z.enum(['docker', 'kubernetes']).optional(),
  name: z.string().optional(),
  steps: z.array(z.unknown()),
  services: z.array(z.unknown()).optional(),
  volumes: z.array(z.strictObject({ name: z.string(), temp: z.strictObject({ medium: z.string().optional(), size_limit: z.union([z.string(), z.number()]).optional() }).optional(), host: z.union([z.strictObject({ path: z.string() }), z.string()]).optional() })).optional(),
  trigger: condition.optional(),
  depends_on: z.array(z.string()).optional(),
  node: z.record(z.string(), z.string()).optional(),
  image_pull_secrets: z.array(z.string()).optional(),
  concurrency: z.strictObject({ limit: z.number().int().positive() }).optional(),
  environment: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).optional(),
  workspace: z.strictObject({ path: z.string().optional(), base: z.string().optional() }).optional(),
  platform: z.strictObject({ os: z.string().optional(), arch: z.string().optional(), variant: z.string().optional(), version: z.string().optional() }).optional(),
  clone: z.strictObject({ disable: z.boolean().optional(), depth: z.number().optional(), retries: z.number().optional(), skip_verify: z.boolean().optional() }).optional(),
  // The Kubernetes runner's own keys of a pipeline (drone-runner-kube).
  metadata: z.looseObject({}).optional(),
  service_account_name: z.string().optional(),
  node_selector: z.record(z.string(), z.string()).optional(),
  tolerations: z.array(z.unknown()).optional(),
  dns_config: z.unknown().optional(),
});

export function readDrone(source: YamlSource): PipelineConfig | undefined {
  const problems: PipelineProblem[] = [];
  const unsupported: PipelineProblem[] = [];
  const raw = source.value as Record<string, unknown> | null;
  if (!raw || raw.kind !== 'pipeline') return undefined; // secrets, signatures: not pipelines
  // Kubernetes pipelines are docker pipelines run as pods: Nestor's backend runs them the same way.
  if (raw.type !== undefined && raw.type !== 'docker' && raw.type !== 'kubernetes') {
    return notRunHere(source, raw, 'type', `Drone type: ${String(raw.type)} pipelines run on Drone's ${String(raw.type)} runner (on the host itself, a VM or over SSH), which Nestor does not offer: it runs containers`);
  }
  const os = (raw.platform as { os?: unknown } | undefined)?.os;
  if (typeof os === 'string' && os !== 'linux') {
    return notRunHere(source, raw, 'platform', `platform os ${os}: Nestor runs Linux containers`);
  }
  const top = check(source, pipeline, raw, [], 'the Drone pipeline', problems);
  unsupportedKeys(source, raw, [], PIPELINE_UNSUPPORTED, unsupported);
  if (!top) return unreadable(source, 'drone', DRONE_WORKSPACE, problems, unsupported);
  const notices: PipelineConfig['notices'] & {} = [];
  const pullSecrets = top.image_pull_secrets ?? [];
  if (pullSecrets.length) notices.push(source.notice([], 'image_pull_secrets', 'NESTOR_PULL_SECRETS', `image_pull_secrets (${pullSecrets.join(', ')}): the images of steps and services are pulled with the registry credentials in these secrets, each a Docker config.json (nestor run --secret NAME=VALUE); no container gets them`, 'info'));
  // Recorded on every step: the pipeline is one job, and its services' pulls use them too.
  const imagePull: ImagePull[] = pullSecrets.map((name, i) => ({ name, at: source.position(['image_pull_secrets', i]) }));
  if (top.concurrency) notices.push(source.notice([], 'concurrency', 'NESTOR_CONCURRENCY_NOT_LIMITED', `concurrency limit ${top.concurrency.limit}: runs of this pipeline are not limited; each runner's --max-jobs bounds how many jobs it runs at once`, 'degraded'));
  // Drone's node and the platform's architecture choose where the pipeline runs: on a
  // server, a runner with those labels (every runner has its platform's).
  const arch = top.platform?.arch;
  const platformLabel = arch ? [`platform=${top.platform?.os ?? 'linux'}/${arch}${top.platform?.variant ? `/${top.platform.variant}` : ''}`] : [];
  const runnerLabels = [...Object.entries(top.node ?? {}).map(([k, v]) => `${k}=${v}`), ...platformLabel];
  const labelKeys = [top.node && 'node', arch && 'platform.arch'].filter((k): k is string => typeof k === 'string');
  if (runnerLabels.length) notices.push(source.notice([], labelKeys[0]!.split('.')[0]!, 'NESTOR_RUNNER_LABELS', `${labelKeys.join(', ')} (${runnerLabels.join(', ')}): on a server the pipeline goes only to a runner with these labels (every runner has platform=linux/ARCH of its machine; others: nestor runner --labels ${runnerLabels.join(',')}); nestor run runs it here`, 'info'));
  notices.push(...kubernetesNotices(source, top));
  for (const [i, v] of (top.volumes ?? []).entries()) {
    // The path alone, where Drone's own schema wants {path: …}: the meaning is the same.
    if (typeof v.host === 'string') notices.push(source.notice(['volumes', i], 'host', 'NESTOR_HOST_AS_PATH', `volume ${v.name}: host: ${v.host} is read as host: {path: ${v.host}}: Drone's own runner refuses the bare path, so write the map where the file must also run on Drone`, 'info'));
    if (v.temp?.medium || v.temp?.size_limit !== undefined) notices.push(source.notice(['volumes', i], 'temp', 'NESTOR_TEMP_ON_DISK', `volume ${v.name}: temp${v.temp.medium ? ` medium ${v.temp.medium}` : ''}${v.temp.size_limit !== undefined ? ` size_limit ${v.temp.size_limit}` : ''} is a volume of the job on disk here, not in memory, bounded by the engine's disk: only speed differs, and it goes with the job as a temp volume does`, 'info'));
  }
  if (top.clone) {
    notices.push(top.clone.disable
      ? source.notice(['clone'], 'disable', 'NESTOR_CLONE_DISABLED', 'clone.disable: the workspace starts empty', 'info')
      : source.notice([], 'clone', 'NESTOR_CLONE_COPIED', 'clone: Nestor copies the checkout, its .git included, into the workspace instead of cloning, so depth, retries and skip_verify have nothing to change: the history and tags are those of the checkout', 'info'));
  }
  if (top.trigger) unsupportedKeys(source, top.trigger, ['trigger'], CONDITION_UNSUPPORTED, unsupported);

  const unread: NonNullable<PipelineConfig['unread']> = [];
  // Each container is read on its own, so that one with problems leaves the others checked.
  const read = (s: unknown, at: PathSegment[], what: string) => {
    const name = nameOf(s, at[1]!);
    const c = check(source, container, s, at, what, problems);
    if (!c || name === undefined) {
      unread.push({ ...(name !== undefined ? { name } : {}), at, ...(at[0] === 'services' ? { service: true } : {}) });
      return undefined;
    }
    unsupportedKeys(source, s as Record<string, unknown>, at, STEP_UNSUPPORTED, unsupported);
    if (c.when) unsupportedKeys(source, c.when, [...at, 'when'], CONDITION_UNSUPPORTED, unsupported);
    return c;
  };
  const steps = top.steps.flatMap((s, i) => {
    const at: PathSegment[] = ['steps', i];
    const c = read(s, at, `step ${nameOf(s, i) ?? i + 1}`);
    if (c?.pull !== undefined) notices.push(pullNotice(source, at, `step ${c.name}`, c.pull));
    return c ? [{ ...toStep(c, at), ...(imagePull.length ? { recorded: { imagePull } } : {}) }] : [];
  });
  // Drone's own clone step runs first and is named clone: depending on it is depending on the
  // source being there, which it always is here (Nestor copies it in before any step).
  if (!steps.some((s) => s.name === 'clone')) {
    for (const s of steps) {
      if (!s.dependsOn?.includes('clone')) continue;
      const keep = s.dependsOn.map((d, i) => [d, s.dependsOnAt?.[i]] as const).filter(([d]) => d !== 'clone');
      s.dependsOn = keep.map(([d]) => d);
      if (s.dependsOnAt) s.dependsOnAt = keep.map(([, at]) => at!);
    }
  }
  const services = (top.services ?? []).flatMap((s, i): ServiceConfig[] => {
    const at: PathSegment[] = ['services', i];
    const c = read(s, at, `service ${nameOf(s, i) ?? i + 1}`);
    if (!c) return [];
    const step = toStep(c, at);
    return [{ name: c.name, image: c.image, aliases: [], environment: step.environment, commands: step.commands, ...(step.entrypoint ? { entrypoint: step.entrypoint } : {}), ...(step.command ? { command: step.command } : {}), ports: [], privileged: step.privileged, volumes: step.volumes, at }];
  });
  return {
    name: top.name ?? 'default',
    format: 'drone',
    file: source.file,
    ...(runnerLabels.length ? { runnerLabels } : {}),
    environment: Object.fromEntries(Object.entries(top.environment ?? {}).map(([k, v]) => [k, String(v)])),
    steps,
    services,
    volumes: (top.volumes ?? []).map((v, i): JobVolume => (v.host ? { name: v.name, kind: 'host', hostPath: typeof v.host === 'string' ? v.host : v.host.path, at: ['volumes', i] } : { name: v.name, kind: 'temp', at: ['volumes', i] })),
    matrix: [{}],
    workspace: top.workspace?.path ? `${top.workspace.base ?? DRONE_WORKSPACE}/${top.workspace.path}`.replace(/\/+/g, '/') : (top.workspace?.base ?? DRONE_WORKSPACE),
    when: top.trigger ? [toCondition(top.trigger)] : [],
    ...(top.depends_on ? { dependsOn: top.depends_on.map((name, i) => ({ name, at: ['depends_on', i] })) } : {}),
    at: [],
    notices,
    ...(top.clone?.disable ? { emptyWorkspace: true } : {}),
    problems,
    unsupported,
    unread,
  };
}

/**
 * The Kubernetes runner's keys: where it places the pod and what it is in the cluster. Nothing
 * of the steps' work depends on them, but a service account is the pod's identity to the
 * cluster, which a job here does not have.
 */
function kubernetesNotices(source: YamlSource, top: z.infer<typeof pipeline>): PipelineNotice[] {
  const out: PipelineNotice[] = [];
  for (const key of ['metadata', 'node_selector', 'tolerations', 'dns_config'] as const) {
    if (top[key] !== undefined) out.push(source.notice([], key, 'NESTOR_KEY_RECORDED', `${key}: a setting of the pod the Kubernetes runner makes (where in the cluster it runs, what it is there); here the pipeline is a job in its own engine on a runner, so it is recorded and changes nothing`, 'info'));
  }
  if (top.service_account_name) out.push(source.notice([], 'service_account_name', 'NESTOR_SERVICE_ACCOUNT', `service_account_name ${top.service_account_name}: the pod's identity in the Kubernetes cluster, which a job here does not have; steps that call the cluster's API with it fail: give them credentials as a secret instead`, 'degraded'));
  top.steps.forEach((s, i) => {
    if (s && typeof s === 'object' && 'resources' in s) out.push(source.notice(['steps', i], 'resources', 'NESTOR_KEY_RECORDED', "resources: the Kubernetes runner's requests and limits of a step; here the job's engine has the limits", 'info'));
  });
  return out;
}

/**
 * Drone's documents that are not pipelines, said instead of dropped: a secret is a value
 * Drone fetches from its secret extension (Vault, AWS, Kubernetes) or decrypts, here the
 * run's secret of that name; a signature protects the file for Drone's trusted repositories,
 * which Nestor decides by its own setting, never by the file.
 */
export function otherDocumentNotices(source: YamlSource): PipelineNotice[] {
  const raw = source.value as Record<string, unknown> | null;
  if (!raw || typeof raw !== 'object' || raw.kind === 'pipeline' || raw.kind === undefined) return [];
  const name = typeof raw.name === 'string' ? raw.name : '(unnamed)';
  if (raw.kind === 'secret') {
    const get = raw.get as { path?: unknown; name?: unknown } | undefined;
    const from = get ? `from ${String(get.path)}${get.name ? `#${String(get.name)}` : ''} of Drone's secret extension` : raw.data !== undefined ? 'from its encrypted data, which only that Drone server can decrypt' : 'by Drone';
    return [source.notice([], get ? 'get' : raw.data !== undefined ? 'data' : 'kind', 'NESTOR_SECRET_DOCUMENT', `secret ${name} is read ${from}; here it is the run's secret ${name} (nestor run --secret ${name}=VALUE, or the server's secrets)`, 'info')];
  }
  if (raw.kind === 'signature') return [source.notice([], 'hmac', 'NESTOR_SIGNATURE_UNCHECKED', "signature: Drone checks it to let a trusted repository's unchanged file run privileged; Nestor grants nothing by the file, only by the repository's trusted setting, so it is not checked", 'info')];
  return [source.notice([], 'kind', 'NESTOR_DOCUMENT_UNREAD', `a document of kind ${String(raw.kind)} is not read: Nestor reads Drone's pipeline, secret and signature documents`, 'degraded')];
}

/**
 * A pipeline for a platform Nestor cannot offer: listed, with its steps, as not run here and
 * why, instead of refusing the whole file (its other pipelines still run).
 */
function notRunHere(source: YamlSource, raw: Record<string, unknown>, key: string, why: string): PipelineConfig {
  const written = Array.isArray(raw.steps) ? raw.steps : [];
  const steps = written.map((s, i): StepConfig => ({
    name: nameOf(s, i) ?? `step-${i + 1}`,
    commands: [],
    afterCommands: [],
    environment: {},
    secrets: [],
    privileged: false,
    volumes: [],
    when: [],
    ignoreFailure: false,
    detach: false,
    notRunBecause: why,
    at: ['steps', i],
  }));
  return {
    ...unreadable(source, 'drone', DRONE_WORKSPACE, []),
    name: typeof raw.name === 'string' ? raw.name : 'default',
    steps,
    unread: [],
    notices: [source.notice([], key, 'NESTOR_PLATFORM_UNAVAILABLE', `pipeline ${typeof raw.name === 'string' ? raw.name : 'default'} is not run: ${why}`, 'degraded')],
  };
}

function toStep(c: z.infer<typeof container>, at: PathSegment[]): StepConfig {
  const env = environmentWithSecrets(c.environment);
  // A plugin: its image's own entrypoint runs with the settings in its environment.
  const plugin = c.settings ? pluginSettings(c.settings) : { environment: {}, secrets: [] };
  const engine = c.settings || !c.commands?.length ? pluginEngine(c.image, [...at, 'image']) : { environment: {}, volumes: [] };
  const environment = { ...engine.environment, ...plugin.environment, ...env.environment };
  const secrets = [...plugin.secrets, ...env.secrets, ...(c.secrets ?? []).map((x) => (typeof x === 'string' ? { name: x, env: x.toUpperCase() } : { name: x.source, env: x.target.toUpperCase() }))];
  return {
    name: c.name,
    image: c.image,
    commands: c.commands ?? [],
    afterCommands: [],
    ...(c.entrypoint !== undefined ? { entrypoint: toArgv(c.entrypoint)! } : {}),
    ...(c.command !== undefined ? { command: toArgv(c.command)! } : {}),
    environment,
    secrets,
    privileged: c.privileged ?? false,
    volumes: [...(c.volumes ?? []).map((v, i) => ({ source: v.name, target: v.path, readOnly: false, at: [...at, 'volumes', i] })), ...engine.volumes.filter((e) => !c.volumes?.some((v) => v.path === e.target))],
    ...(c.network_mode ? { networkMode: c.network_mode } : {}),
    ...(c.working_dir ? { workingDir: c.working_dir } : {}),
    ...(c.user !== undefined ? { user: String(c.user) } : {}),
    ...(c.depends_on ? { dependsOn: c.depends_on, dependsOnAt: entryPaths(c.depends_on, [...at, 'depends_on']) } : {}),
    when: c.when ? [toCondition(c.when)] : [],
    ignoreFailure: c.failure === 'ignore',
    detach: c.detach ?? false,
    at,
  };
}
