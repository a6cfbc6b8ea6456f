import { z } from 'zod';
import type { PipelineProblem } from '../errors.ts';
import { enforce } from '../limits.ts';
import type { JobVolume, PipelineConfig, ServiceConfig, StepConfig, VolumeRef } from '../model.ts';
import { entries, entryPaths, isMap, nameOf, unreadable } from './items.ts';
import { check } from '../validate.ts';
import type { PathSegment, YamlSource } from '../yaml-source.ts';
import {
  commandSchema,
  durationSchema,
  environmentSchema,
  filterSchema,
  listOf,
  parseVolumeString,
  scalar,
  statusSchema,
  stringList,
  toArgv,
  toCondition,
  toEnvironment,
  toPorts,
  toSeconds,
} from '../common.ts';

/** Nestor's own format, `.nestor.yml`. docs/pipeline.md is its reference. */

export const whenSchema = z.strictObject({
  branch: filterSchema.optional(),
  event: filterSchema.optional(),
  status: statusSchema.optional(),
  paths: filterSchema.optional(),
});

const volumeSchema = z.union([
  z.string(),
  z.strictObject({ name: z.string().optional(), source: z.string().optional(), path: z.string(), read_only: z.boolean().optional() }),
]);

const secretSchema = z.union([z.string(), z.strictObject({ source: z.string(), target: z.string() })]);

export const stepSchema = z.strictObject({
  name: z.string().optional(),
  image: z.string().optional(),
  commands: stringList.optional(),
  run: z.string().optional(),
  environment: environmentSchema.optional(),
  secrets: z.array(secretSchema).optional(),
  privileged: z.boolean().optional(),
  volumes: z.array(volumeSchema).optional(),
  network_mode: z.string().optional(),
  working_dir: z.string().optional(),
  entrypoint: commandSchema.optional(),
  command: commandSchema.optional(),
  depends_on: stringList.optional(),
  when: z.union([whenSchema, z.array(whenSchema)]).optional(),
  timeout: durationSchema.optional(),
  failure: z.enum(['ignore', 'fail']).optional(),
  detach: z.boolean().optional(),
  /** A deploy target of the server's (nestor targets add): the step's Docker client talks to its engine. */
  deploy: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, 'a deploy target name: lower-case letters, digits, ".", "_" and "-"').optional(),
});

export const serviceSchema = z.strictObject({
  name: z.string().optional(),
  image: z.string(),
  alias: z.string().optional(),
  aliases: z.array(z.string()).optional(),
  environment: environmentSchema.optional(),
  commands: stringList.optional(),
  entrypoint: commandSchema.optional(),
  command: commandSchema.optional(),
  ports: z.array(z.union([z.number(), z.string()])).optional(),
  privileged: z.boolean().optional(),
  volumes: z.array(volumeSchema).optional(),
});

const matrixSchema = z.union([
  z.strictObject({ include: z.array(z.record(z.string(), scalar)) }),
  z.record(z.string(), z.array(scalar)),
]);

const jobVolumeSchema = z.strictObject({ temp: z.strictObject({}).optional(), host: z.strictObject({ path: z.string() }).optional() });

export const pipelineSchema = z.strictObject({
  name: z.string().optional(),
  image: z.string().optional(),
  environment: environmentSchema.optional(),
  workspace: z.string().optional(),
  matrix: matrixSchema.optional(),
  when: z.union([whenSchema, z.array(whenSchema)]).optional(),
  volumes: z.record(z.string(), jobVolumeSchema).optional(),
  // Steps and services are checked one by one, so that one with problems does not hide the rest.
  services: z.union([z.array(z.unknown()), z.record(z.string(), z.unknown())]).optional(),
  steps: z.union([z.array(z.unknown()), z.record(z.string(), z.unknown())]),
});

export const DEFAULT_WORKSPACE = '/workspace';

export function readNestor(source: YamlSource): PipelineConfig {
  const problems: PipelineProblem[] = [];
  const top = check(source, pipelineSchema, source.value ?? {}, [], 'the pipeline', problems);
  if (!top) return unreadable(source, 'nestor', DEFAULT_WORKSPACE, problems);
  const unread: NonNullable<PipelineConfig['unread']> = [];

  const steps: StepConfig[] = [];
  for (const [key, raw, at] of entries(top.steps, ['steps'])) {
    const name = nameOf(raw, key, `step-${Number(key) + 1}`);
    const step = check(source, stepSchema, raw ?? {}, at, `step ${typeof key === 'number' ? `#${key + 1}` : key}`, problems);
    if (step && name !== undefined) steps.push(toStep(step, name, at, problems, source));
    else unread.push({ ...(name !== undefined ? { name } : {}), at });
  }
  const services: ServiceConfig[] = [];
  for (const [key, raw, at] of entries(top.services ?? [], ['services'])) {
    const name = nameOf(raw, key);
    const s = check(source, serviceSchema, raw ?? {}, at, `service ${name ?? (typeof key === 'number' ? `#${key + 1}` : key)}`, problems);
    if (!s || name === undefined) {
      // A `name` of the wrong type is reported already.
      if (s && !(isMap(raw) && raw.name !== undefined)) problems.push({ position: source.position(at), message: 'a service needs a name' });
      unread.push({ ...(name !== undefined ? { name } : {}), at, service: true });
      continue;
    }
    services.push({
      name,
      image: s.image,
      aliases: [...(s.alias ? [s.alias] : []), ...(s.aliases ?? [])],
      environment: toEnvironment(s.environment),
      commands: listOf(s.commands),
      ...(s.entrypoint !== undefined ? { entrypoint: toArgv(s.entrypoint)! } : {}),
      ...(s.command !== undefined ? { command: toArgv(s.command)! } : {}),
      ports: toPorts(s.ports),
      privileged: s.privileged ?? false,
      volumes: toVolumes(s.volumes, [...at, 'volumes'], problems, source),
      at,
    });
  }
  checkMatrix(source, top.matrix, problems);
  return {
    name: top.name ?? 'pipeline',
    format: 'nestor',
    file: source.file,
    ...(top.image ? { defaultImage: top.image } : {}),
    environment: toEnvironment(top.environment),
    steps,
    services,
    volumes: Object.entries(top.volumes ?? {}).map(([name, v]): JobVolume =>
      v.host ? { name, kind: 'host', hostPath: v.host.path, at: ['volumes', name] } : { name, kind: 'temp', at: ['volumes', name] },
    ),
    matrix: toMatrix(top.matrix, source, steps.length + services.length),
    workspace: top.workspace ?? DEFAULT_WORKSPACE,
    when: top.when === undefined ? [] : (Array.isArray(top.when) ? top.when : [top.when]).map(toCondition),
    at: [],
    problems,
    unread,
  };
}

function toStep(
  s: z.infer<typeof stepSchema>,
  name: string,
  at: PathSegment[],
  problems: PipelineProblem[],
  source: YamlSource,
): StepConfig {
  if (s.commands !== undefined && s.run !== undefined) {
    problems.push({ position: source.position(at, 'run'), message: 'a step has either `commands` or `run`, not both' });
  }
  const when = s.when === undefined ? [] : Array.isArray(s.when) ? s.when : [s.when];
  return {
    name,
    ...(s.image ? { image: s.image } : {}),
    commands: s.run !== undefined ? [s.run] : listOf(s.commands),
    afterCommands: [],
    ...(s.entrypoint !== undefined ? { entrypoint: toArgv(s.entrypoint)! } : {}),
    ...(s.command !== undefined ? { command: toArgv(s.command)! } : {}),
    environment: toEnvironment(s.environment),
    secrets: (s.secrets ?? []).map((x) => (typeof x === 'string' ? { name: x, env: x } : { name: x.source, env: x.target })),
    privileged: s.privileged ?? false,
    volumes: toVolumes(s.volumes, [...at, 'volumes'], problems, source),
    ...(s.network_mode ? { networkMode: s.network_mode } : {}),
    ...(s.working_dir ? { workingDir: s.working_dir } : {}),
    ...(s.depends_on !== undefined ? { dependsOn: listOf(s.depends_on), dependsOnAt: entryPaths(s.depends_on, [...at, 'depends_on']) } : {}),
    when: when.map(toCondition),
    ...(s.timeout !== undefined ? { timeoutSeconds: toSeconds(s.timeout)! } : {}),
    ignoreFailure: s.failure === 'ignore',
    detach: s.detach ?? false,
    ...(s.deploy ? { deploy: s.deploy } : {}),
    at,
  };
}

function toVolumes(
  values: z.infer<typeof volumeSchema>[] | undefined,
  base: PathSegment[],
  problems: PipelineProblem[],
  source: YamlSource,
): VolumeRef[] {
  const out: VolumeRef[] = [];
  (values ?? []).forEach((v, i) => {
    const at = [...base, i];
    if (typeof v === 'string') {
      const parsed = parseVolumeString(v, at);
      if (parsed) out.push(parsed);
      else problems.push({ position: source.position(at), message: `volume "${v}" is not SOURCE:TARGET[:ro|rw]` });
    } else {
      const from = v.name ?? v.source;
      if (!from) problems.push({ position: source.position(at), message: 'a volume needs `name` (or `source`) and `path`' });
      else out.push({ source: from, target: v.path, readOnly: v.read_only ?? false, at });
    }
  });
  return out;
}

/** A matrix with an empty list makes no jobs at all: surely not what was meant. */
export function checkMatrix(source: YamlSource, matrix: z.infer<typeof matrixSchema> | undefined, problems: PipelineProblem[]): void {
  for (const [axis, values] of Object.entries(matrix ?? {})) {
    if (Array.isArray(values) && values.length === 0) {
      problems.push({ position: source.position(['matrix', axis]), message: `matrix ${axis === 'include' ? 'include' : `axis "${axis}"`} has no values, so the pipeline would make no jobs` });
    }
  }
}

/**
 * `{A: [1, 2], B: [x]}` → every combination; `{include: [...]}` → exactly those. The jobs it
 * makes, times the `items` (steps and services) of each, are checked against the limit before
 * they are made: ten axes of ten values are ten billion jobs.
 */
export function toMatrix(matrix: z.infer<typeof matrixSchema> | undefined, source?: YamlSource, items = 1): Record<string, string>[] {
  if (!matrix) return [{}];
  const include = 'include' in matrix && Array.isArray(matrix.include) && matrix.include.every((e) => typeof e === 'object');
  const jobs = include ? (matrix.include as unknown[]).length : Object.values(matrix).reduce((n: number, v) => n * (Array.isArray(v) ? v.length : 1), 1);
  if (source) enforce(source.limits, 'steps', jobs * Math.max(1, items), () => source.position([], 'matrix'), `the matrix makes ${jobs} jobs of ${items} steps and services each`);
  if (include) {
    return (matrix.include as Record<string, string | number | boolean>[]).map((e) => toEnvironment(e));
  }
  let combos: Record<string, string>[] = [{}];
  for (const [axis, values] of Object.entries(matrix as Record<string, (string | number | boolean)[]>)) {
    combos = combos.flatMap((c) => values.map((v) => ({ ...c, [axis]: String(v) })));
  }
  return combos;
}
