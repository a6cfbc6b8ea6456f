import { z } from 'zod';
import type { PipelineNotice, PipelineProblem } from '../errors.ts';
import type { Condition, PipelineConfig, ServiceConfig, StepConfig, VolumeRef } from '../model.ts';
import { check } from '../validate.ts';
import type { PathSegment, YamlSource } from '../yaml-source.ts';
import {
  commandSchema,
  filterSchema,
  listOf,
  parseVolumeString,
  scalar,
  statusSchema,
  stringList,
  toArgv,
  toCondition,
} from '../common.ts';
import { entries, entryPaths, isMap, nameOf, unreadable } from './items.ts';
import { checkMatrix, toMatrix } from './nestor.ts';
import { unsupportedIn } from '../evaluate-expression.ts';
import { environmentWithSecrets, pluginEngine, pluginSettings, pullNotice, recognised, unsupportedKeys } from './unsupported.ts';

/** Woodpecker's `.woodpecker.yml` and `.woodpecker/*.yml`: the common subset. */

export const WOODPECKER_WORKSPACE = '/woodpecker/src';

const CONDITION_UNSUPPORTED = {};
const STEP_UNSUPPORTED = { dns: 'not supported', extra_hosts: 'reach steps and services by name', tmpfs: 'not supported', devices: 'not supported', shm_size: 'not supported', cpu_quota: 'limits are set per job engine', mem_limit: 'limits are set per job engine' };

/** Woodpecker's path condition: a filter, or one with what an empty change set and a commit message do. */
const pathSchema = z.union([
  filterSchema,
  z.strictObject({ include: stringList.optional(), exclude: stringList.optional(), on_empty: z.boolean().optional(), ignore_message: z.string().optional() }),
]);

const condition = z.strictObject({
  ...recognised(CONDITION_UNSUPPORTED),
  branch: filterSchema.optional(),
  event: filterSchema.optional(),
  status: statusSchema.optional(),
  path: pathSchema.optional(),
  /** The platform of the runner the step runs on (`linux/amd64`, `linux/arm*`). */
  platform: filterSchema.optional(),
  ref: filterSchema.optional(),
  repo: filterSchema.optional(),
  instance: filterSchema.optional(),
  cron: filterSchema.optional(),
  evaluate: z.string().optional(),
  matrix: z.record(z.string(), scalar).optional(),
});
/**
 * Woodpecker takes any YAML value (its schema's step_environment): a list is joined with
 * commas, a map written as JSON, as its sanitizeParamValue does for settings.
 */
const envValue = z.union([scalar, z.null(), z.strictObject({ from_secret: z.string() }), z.array(z.union([scalar, z.null()])).transform((l) => l.map((v) => (v === null ? '' : String(v))).join(',')), z.record(z.string(), z.unknown()).transform((m) => JSON.stringify(m))]);

/** `- NAME=VALUE` entries as a map (quotes around a value kept off, as a shell would take them). */
function assignmentsList(list: string[]): Record<string, string> {
  return Object.fromEntries(list.map((entry) => {
    const eq = entry.indexOf('=');
    const name = eq < 0 ? entry : entry.slice(0, eq);
    const value = eq < 0 ? '' : entry.slice(eq + 1).replace(/^"(.*)"$/s, '$1').replace(/^'(.*)'$/s, '$1');
    return [name, value];
  }));
}

/** The keys of a Woodpecker step: a Drone 0.8 plugin step's others are its settings (load.ts). */
export const WOODPECKER_STEP_KEYS = (): Set<string> => new Set(Object.keys(container.shape));

const container = z.strictObject({
  ...recognised(STEP_UNSUPPORTED),
  name: z.string().optional(),
  image: z.string(),
  commands: stringList.optional(),
  entrypoint: commandSchema.optional(),
  command: commandSchema.optional(),
  // Woodpecker 2 also read a list of NAME=VALUE (deprecated; Woodpecker 3 refuses it): read as the map it meant.
  environment: z.union([z.record(z.string(), envValue), z.array(z.string()).transform(assignmentsList)]).optional(),
  secrets: z.array(z.union([z.string(), z.strictObject({ source: z.string(), target: z.string() })])).optional(),
  privileged: z.boolean().optional(),
  volumes: z.array(z.string()).optional(),
  detach: z.boolean().optional(),
  failure: z.enum(['ignore', 'fail']).optional(),
  when: z.union([condition, z.array(condition)]).optional(),
  depends_on: stringList.optional(),
  directory: z.string().optional(),
  network_mode: z.string().optional(),
  pull: z.boolean().optional(),
  ports: z.array(z.union([z.number(), z.string()])).optional(),
  settings: z.record(z.string(), z.unknown()).optional(),
  /** Deprecated in Woodpecker, still common: adjacent steps of one group run together. */
  group: z.string().optional(),
  backend_options: z.record(z.string(), z.unknown()).optional(),
  user: z.union([z.string(), z.number()]).optional(),
});

const workflow = z.strictObject({
  /** Deprecated in Woodpecker 2, which reads it as labels.platform. */
  platform: z.string().optional(),
  depends_on: stringList.optional(),
  runs_on: z.union([z.enum(['success', 'failure']), z.array(z.enum(['success', 'failure']))]).optional(),
  labels: z.record(z.string(), scalar).optional(),
  steps: z.union([z.array(z.unknown()), z.record(z.string(), z.unknown())]).optional(),
  pipeline: z.union([z.array(z.unknown()), z.record(z.string(), z.unknown())]).optional(),
  services: z.union([z.array(z.unknown()), z.record(z.string(), z.unknown())]).optional(),
  when: z.union([condition, z.array(condition)]).optional(),
  matrix: z.union([z.strictObject({ include: z.array(z.record(z.string(), scalar)) }), z.record(z.string(), z.array(scalar))]).optional(),
  workspace: z.strictObject({ base: z.string().optional(), path: z.string().optional() }).optional(),
  clone: z.unknown().optional(),
  skip_clone: z.boolean().optional(),
  variables: z.unknown().optional(),
});

export function readWoodpecker(source: YamlSource, name: string): PipelineConfig {
  const problems: PipelineProblem[] = [];
  const unsupported: PipelineProblem[] = [];
  const raw = (source.value ?? {}) as Record<string, unknown>;
  const top = check(source, workflow, raw, [], 'the Woodpecker workflow', problems);
  if (!top) return unreadable(source, 'woodpecker', WOODPECKER_WORKSPACE, problems, unsupported);
  const stepsKey = top.steps !== undefined ? 'steps' : 'pipeline';
  const notices: PipelineConfig['notices'] & {} = [];
  // An empty label asks for nothing, as in Woodpecker (`hostname: ""`); the old platform key is labels.platform.
  const labels = { ...(top.platform !== undefined ? { platform: top.platform } : {}), ...top.labels };
  if (top.platform !== undefined) notices.push(source.notice([], 'platform', 'NESTOR_PLATFORM_LABEL', `platform: ${top.platform} is read as labels.platform, as Woodpecker 2 reads it (it is deprecated there: write labels: {platform: ${top.platform}})`, 'info'));
  const runnerLabels = Object.entries(labels).filter(([, v]) => v !== null && String(v) !== '').map(([k, v]) => `${k}=${String(v)}`);
  if (runnerLabels.length) notices.push(source.notice([], 'labels', 'NESTOR_RUNNER_LABELS', `labels (${runnerLabels.join(', ')}): on a server the workflow goes only to a runner with these labels (nestor runner --labels ${runnerLabels.join(',')}); nestor run runs it here`, 'info'));
  if (top.clone !== undefined) notices.push(cloneNotice(source, top.clone));

  const unread: NonNullable<PipelineConfig['unread']> = [];
  // Each container is read on its own, so that one with problems leaves the others checked.
  const read = (value: unknown, at: PathSegment[], key: string | number, what: string) => {
    // Woodpecker names an unnamed step of a list step-0, step-1, … (container_list.go).
    const name = nameOf(value, key, typeof key === 'number' ? `step-${key}` : undefined);
    const c = check(source, container, value ?? {}, at, what, problems);
    if (!c || name === undefined) {
      unread.push({ ...(name !== undefined ? { name } : {}), at, ...(at[0] === 'services' ? { service: true } : {}) });
      return undefined;
    }
    unsupportedKeys(source, value as Record<string, unknown>, at, STEP_UNSUPPORTED, unsupported);
    if (c.backend_options) notices.push(...backendOptionsNotices(source, c.backend_options, at, what));
    const when = c.when === undefined ? [] : Array.isArray(c.when) ? c.when : [c.when];
    when.forEach((w, i) => {
      const whenAt = Array.isArray(c.when) ? [...at, 'when', i] : [...at, 'when'];
      unsupportedKeys(source, w, whenAt, CONDITION_UNSUPPORTED, unsupported);
      const why = w.evaluate === undefined ? undefined : unsupportedIn(w.evaluate);
      if (why) notices.push(source.notice(whenAt, 'evaluate', 'NESTOR_EXPRESSION_UNSUPPORTED', `${what}: its evaluate expression uses ${why}, which Nestor cannot evaluate; the step is not run rather than run on a guess (write the condition with branch, event, ref or path)`, 'degraded'));
    });
    return { c, when, name };
  };

  const steps: StepConfig[] = [];
  const groups: (string | undefined)[] = [];
  for (const [key, value, at] of entries(top[stepsKey] ?? [], [stepsKey])) {
    const r = read(value, at, key, `step ${nameOf(value, key) ?? `#${Number(key) + 1}`}`);
    if (!r) continue;
    const { c } = r;
    if (c.pull !== undefined) notices.push(pullNotice(source, at, `step ${r.name}`, c.pull));
    if (Array.isArray((value as { environment?: unknown } | null)?.environment)) notices.push(source.notice(at, 'environment', 'NESTOR_ENVIRONMENT_LIST', `step ${r.name}: environment as a list of NAME=VALUE is read as the map it means, as Woodpecker 2 did; Woodpecker 3 refuses the list (write environment: {NAME: VALUE})`, 'info'));
    const env = environmentWithSecrets(c.environment);
    // A plugin: its image's own entrypoint runs with the settings in its environment.
    const plugin = c.settings ? pluginSettings(c.settings) : { environment: {}, secrets: [] };
    const engine = c.settings || !c.commands ? pluginEngine(c.image, [...at, 'image']) : { environment: {}, volumes: [] };
    const volumes = volumesOf(c.volumes, [...at, 'volumes'], source, problems);
    groups.push(c.group);
    steps.push({
      name: r.name,
      image: c.image,
      commands: listOf(c.commands),
      afterCommands: [],
      ...(c.entrypoint !== undefined ? { entrypoint: toArgv(c.entrypoint)! } : {}),
      ...(c.command !== undefined ? { command: toArgv(c.command)! } : {}),
      environment: { ...engine.environment, ...plugin.environment, ...env.environment },
      secrets: [...plugin.secrets, ...env.secrets, ...(c.secrets ?? []).map((s) => (typeof s === 'string' ? { name: s, env: s.toUpperCase() } : { name: s.source, env: s.target.toUpperCase() }))],
      privileged: c.privileged ?? false,
      volumes: [...volumes, ...engine.volumes.filter((e) => !volumes.some((v) => v.target === e.target))],
      ...(c.network_mode ? { networkMode: c.network_mode } : {}),
      ...(c.directory ? { workingDir: c.directory } : {}),
      ...(c.user !== undefined ? { user: String(c.user) } : dockerUser(c.backend_options) !== undefined ? { user: dockerUser(c.backend_options)! } : {}),
      ...(c.depends_on !== undefined ? { dependsOn: listOf(c.depends_on), dependsOnAt: entryPaths(c.depends_on, [...at, 'depends_on']) } : {}),
      when: r.when.map(woodpeckerCondition),
      ignoreFailure: c.failure === 'ignore',
      detach: c.detach ?? false,
      at,
    });
  }
  orderGroups(steps, groups);
  // A workflow for another system's runners (labels.platform windows/amd64) is listed, not run.
  const os = typeof labels.platform === 'string' ? labels.platform.split('/')[0]! : 'linux';
  if (os !== 'linux') {
    const why = `platform ${String(labels.platform)}: Nestor runs Linux containers`;
    notices.push(source.notice([], top.labels?.platform !== undefined ? 'labels' : 'platform', 'NESTOR_PLATFORM_UNAVAILABLE', `workflow ${name} is not run: ${why}`, 'degraded'));
    for (const s of steps) s.notRunBecause = why;
  }
  const services: ServiceConfig[] = [];
  for (const [key, value, at] of entries(top.services ?? [], ['services'])) {
    const r = read(value, at, key, `service ${nameOf(value, key) ?? `#${Number(key) + 1}`}`);
    if (!r) continue;
    services.push({
      name: r.name,
      image: r.c.image,
      aliases: [],
      environment: environmentWithSecrets(r.c.environment).environment,
      commands: listOf(r.c.commands),
      ...(r.c.entrypoint !== undefined ? { entrypoint: toArgv(r.c.entrypoint)! } : {}),
      ...(r.c.command !== undefined ? { command: toArgv(r.c.command)! } : {}),
      ports: (r.c.ports ?? []).map((p) => Number(String(p).replace(/\/tcp$/, ''))).filter(Number.isInteger),
      privileged: r.c.privileged ?? false,
      volumes: volumesOf(r.c.volumes, [...at, 'volumes'], source, problems),
      at,
    });
  }
  checkMatrix(source, top.matrix, problems);
  const when = top.when === undefined ? [] : Array.isArray(top.when) ? top.when : [top.when];
  when.forEach((w, i) => {
    const why = w.evaluate === undefined ? undefined : unsupportedIn(w.evaluate);
    if (why) notices.push(source.notice(Array.isArray(top.when) ? ['when', i] : ['when'], 'evaluate', 'NESTOR_EXPRESSION_UNSUPPORTED', `the workflow's evaluate expression uses ${why}, which Nestor cannot evaluate; the workflow is not run rather than run on a guess`, 'degraded'));
  });
  return {
    name,
    format: 'woodpecker',
    file: source.file,
    ...(runnerLabels.length ? { runnerLabels } : {}),
    environment: {},
    steps,
    services,
    volumes: [],
    matrix: toMatrix(top.matrix, source, steps.length + services.length),
    workspace: `${top.workspace?.base ?? WOODPECKER_WORKSPACE}${top.workspace?.path ? `/${top.workspace.path}` : ''}`,
    when: when.map(woodpeckerCondition),
    ...(top.depends_on !== undefined ? { dependsOn: listOf(top.depends_on).map((name, i) => ({ name, at: Array.isArray(top.depends_on) ? ['depends_on', i] : ['depends_on'] })) } : {}),
    ...(top.runs_on !== undefined ? { runsOn: Array.isArray(top.runs_on) ? top.runs_on : [top.runs_on] } : {}),
    at: [],
    notices,
    ...(top.skip_clone ? { emptyWorkspace: true } : {}),
    problems,
    unsupported,
    unread,
  };
}

/**
 * Woodpecker's `clone:` replaces its clone step. Nestor copies the checkout, .git included,
 * instead: nothing is lost when the step is Woodpecker's own git plugin (its depth, tags and
 * submodule settings shape a history the copy already has); a clone step of another image, or
 * with commands, did something of its own that does not happen here.
 */
function cloneNotice(source: YamlSource, clone: unknown): NonNullable<PipelineConfig['notices']>[number] {
  const steps = isMap(clone) ? Object.values(clone) : Array.isArray(clone) ? clone : [];
  const ownGit = steps.every((s) => isMap(s) && s.commands === undefined && (s.image === undefined || /(^|\/)plugin-git(:|@|$)|woodpeckerci\/plugin-git/.test(String(s.image))));
  return ownGit
    ? source.notice([], 'clone', 'NESTOR_CLONE_COPIED', "clone: Nestor copies the checkout, its .git included, into the workspace instead of running Woodpecker's git plugin; its history, tags and submodules are those of the checkout", 'info')
    : source.notice([], 'clone', 'NESTOR_CLONE_IGNORED', 'clone: this clone step runs an image or commands of its own, which Nestor does not run: it copies the checkout, .git included, into the workspace instead; move what the step did into a first step', 'degraded');
}

/**
 * `backend_options` are per backend: Nestor's runs containers as Woodpecker's Docker backend
 * does and reads its `user`; the Kubernetes backend's (resources, node selectors, service
 * accounts) are not Docker's either, but what they ask for does not happen here.
 */
function backendOptionsNotices(source: YamlSource, options: Record<string, unknown>, at: PathSegment[], what: string): PipelineNotice[] {
  const docker = typeof options.docker === 'object' && options.docker !== null ? Object.keys(options.docker) : [];
  const unread = [...docker.filter((k) => k !== 'user').map((k) => `docker.${k}`), ...Object.keys(options).filter((k) => k !== 'docker')];
  const out: PipelineNotice[] = [];
  if (docker.includes('user')) out.push(source.notice(at, 'backend_options', 'NESTOR_BACKEND_USER', `${what}: backend_options.docker.user is the user its container runs as, as on Woodpecker's Docker backend`, 'info'));
  if (unread.length) out.push(source.notice(at, 'backend_options', 'NESTOR_BACKEND_OPTIONS_IGNORED', `${what}: backend_options (${unread.join(', ')}) are settings of Woodpecker's own backends; Nestor's backend does not read them (limits are the job engine's)`, 'degraded'));
  return out;
}

/** A `when` entry; its path is matched against the whole change set, as Woodpecker does. */
function woodpeckerCondition(w: z.infer<typeof condition>): Condition {
  const { path, ...rest } = w;
  if (path === undefined) return toCondition(rest);
  const options = (typeof path === 'object' && !Array.isArray(path) ? path : {}) as { on_empty?: boolean; ignore_message?: string };
  const filter = typeof path === 'object' && !Array.isArray(path) ? { include: path.include, exclude: path.exclude } : path;
  return {
    ...toCondition({ ...rest, paths: filter }),
    pathRule: { onEmpty: options.on_empty !== false, ...(options.ignore_message ? { ignoreMessage: options.ignore_message } : {}) },
  };
}

/** Woodpecker's Docker backend runs a step as `backend_options.docker.user`, as Nestor's does. */
function dockerUser(options: Record<string, unknown> | undefined): string | undefined {
  const user = (options?.docker as { user?: unknown } | undefined)?.user;
  return typeof user === 'string' || typeof user === 'number' ? String(user) : undefined;
}

/**
 * Woodpecker's `group`, as its compiler orders it: adjacent steps with the same group form one
 * stage and run together; each stage starts once the one before has ended. Only for files that
 * order their steps by groups: once any step writes `depends_on`, the graph is the file's own.
 */
function orderGroups(steps: StepConfig[], groups: (string | undefined)[]): void {
  if (!groups.some((g) => g !== undefined) || steps.some((s) => s.dependsOn !== undefined)) return;
  let previous: string[] = [];
  let current: string[] = [];
  let currentGroup: string | undefined;
  steps.forEach((step, i) => {
    const group = groups[i];
    if (group === undefined || group !== currentGroup || i === 0) {
      if (current.length) previous = current;
      current = [];
      currentGroup = group;
    }
    step.dependsOn = [...previous];
    current.push(step.name);
  });
}

function volumesOf(values: string[] | undefined, base: PathSegment[], source: YamlSource, problems: PipelineProblem[]): VolumeRef[] {
  return (values ?? []).flatMap((v, i) => {
    const parsed = parseVolumeString(v, [...base, i]);
    if (!parsed) problems.push({ position: source.position([...base, i]), message: `volume "${v}" is not SOURCE:TARGET[:ro|rw]` });
    return parsed ? [parsed] : [];
  });
}
