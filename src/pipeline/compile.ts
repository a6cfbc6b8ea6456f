import type { GithubFacts } from './formats/github.ts';
import { posix } from 'node:path';
import { throwProblems, type PipelineNotice, type PipelineProblem, type SourcePosition } from './errors.ts';
import { checkNames, dependencies, maybeUnread } from './graph.ts';
import type { Condition, PipelineConfig, ServiceConfig, StepConfig, VolumeRef } from './model.ts';
import type { EngineUse, JobPlan, MountIntent, PlanService, PlanStep } from './plan.ts';
import { jobsOfSteps } from './jobs-of-steps.ts';
import { stepScript } from './script.ts';
import { substitute } from './substitute.ts';
import { didYouMean } from './suggest.ts';
import { PipelineLimitError, type PipelineLimits } from './limits.ts';
import { evaluate, patternsOf, type RunFacts } from './when.ts';
import type { YamlSource } from './yaml-source.ts';
import { hostPathUse } from './host-paths.ts';
import { expandAxes } from './pre-substitute.ts';

export interface CompileOptions extends RunFacts {
  /** The image for steps that name none and whose file sets no default. */
  defaultImage: string;
  /** Trusted jobs may mount host paths. */
  trusted?: boolean;
  /** Run only these steps (and what they depend on). */
  only?: string[];
  /** Variables that override the file's (`nestor run --env`). */
  env?: Record<string, string>;
  /**
   * Names of the secrets that will be supplied. Absent (lint, plan, a server checking a
   * submission): not known here, so a secret a step uses is a notice, not a problem.
   */
  secrets?: string[];
  /** Variables every container gets (`CI=true`, the format's own CI_* names, …). */
  builtins?: (job: { name: string; step?: string }) => Record<string, string>;
  /** Overrides of the pipeline limits (DEFAULT_PIPELINE_LIMITS). */
  limits?: Partial<PipelineLimits>;
  /** The image each GitHub `runs-on` label runs in (`-P ubuntu-latest=IMAGE`), before Nestor's own table. */
  platforms?: Record<string, string>;
  /** How the jobs a GitHub job needs ended, by job id: a matrix over their outputs is expanded (a run compiling such a job again). */
  needs?: GithubFacts['needs'];
}

export const DEFAULT_STEP_TIMEOUT_SECONDS = 3600;

/** A `docker:dind`-style service: served by the job's own nested engine, not a second daemon. */
export function isDindImage(image: string): boolean {
  return /dind/i.test(image.split('@')[0]!);
}

/**
 * Turns a read pipeline into one plan per matrix entry, or throws every problem found: those
 * found while reading the file and those found here, in one error sorted by position. The
 * plans are built even when there are problems, since building them finds more (mounts, TLS).
 */
export function compile(config: PipelineConfig, source: YamlSource, opts: CompileOptions): JobPlan[] {
  const problems: PipelineProblem[] = [...(config.problems ?? [])];
  const at = (path: StepConfig['at'], key?: string) => source.position(path, key);
  checkNames(config, problems, at);
  const order = dependencies(config, problems, at);
  const selected = selectSteps(config, order, opts.only, problems, source);
  const secretNotices = checkSecrets(config, opts.secrets, problems, source);
  checkPatterns(config, source);

  const pipelineWhen = evaluate(config.when, opts);
  const whole = config;
  const plans = whole.matrix.map((axes): JobPlan => {
    // Woodpecker expands a matrix entry's values in the whole file, for that entry's job.
    const config = whole.format === 'woodpecker' && Object.keys(axes).length ? { ...whole, steps: expandAxes(whole.steps, axes), services: expandAxes(whole.services, axes) } : whole;
    const name = jobName(config.name, axes, config.format === 'github');
    // A GitHub matrix is read through `matrix.*` expressions, never as variables.
    const envAxes = config.format === 'github' ? {} : axes;
    const vars = { ...config.environment, ...envAxes, ...opts.env };
    const notices: PipelineNotice[] = [...(config.notices ?? []), ...secretNotices];
    const dind = config.services.filter((s) => isDindImage(s.image));
    for (const s of dind) notices.push(source.notice(s.at, undefined, 'NESTOR_DIND_SERVED', `service ${s.name} (${s.image}) is served by the job's own nested engine: same alias, TLS files and socket, one image cache`, 'info'));
    for (const c of [...config.services.filter((s) => !isDindImage(s.image)), ...config.steps].filter((x) => x.privileged)) notices.push(source.notice(c.at, 'privileged', 'NESTOR_PRIVILEGED', privilegedNotice(c.name), 'info'));
    const socketDirVolumes = new Set(dind.flatMap((s) => s.volumes.filter((v) => v.target === '/var/run').map((v) => v.source)));
    // Where the file's own set-up expects the engine's client certificates: docker:dind puts
    // them in `$DOCKER_TLS_CERTDIR/client`. Only directories the file names: the image's default
    // is where the backend puts them for every step anyway.
    const certDirs: string[] = [];
    const plainServices = dind.filter((s) => turnsTlsOff(s, vars));
    for (const s of dind) {
      const dir = s.environment.DOCKER_TLS_CERTDIR ?? vars.DOCKER_TLS_CERTDIR;
      if (dir !== undefined && dir !== '') certDirs.push(`${dir.replace(/\/$/, '')}/client`);
    }
    const engineAliases = [...new Set(dind.flatMap((s) => [s.name, ...s.aliases]))];
    const plainEngine = plainServices.length > 0;
    for (const s of plainServices) notices.push(source.notice(s.at, undefined, 'NESTOR_DIND_PLAIN', `service ${s.name} turns TLS off: the job's engine answers plain HTTP too, on the port the file's Docker address names (2375 unless it says otherwise), to the job's own containers only (nothing outside the job reaches it)`, 'info'));
    const resolveImage = (image: string | undefined) => substitute(image ?? config.defaultImage ?? opts.defaultImage, vars);
    const hostNotices: PipelineNotice[] = [];
    const mountsFor = (volumes: VolumeRef[]) => volumes.flatMap((v) => toMount(v, config, socketDirVolumes, opts.trusted ?? false, problems, hostNotices, source) ?? []);

    const steps: PlanStep[] = config.steps
      .filter((s) => selected.has(s.name))
      .map((s) => {
        const decided = evaluate(s.when, { ...opts, matrix: axes });
        const mounts = mountsFor(s.volumes);
        // A step that mounts the engine's socket finds it by its client's default; every other
        // step is pointed at the engine through its environment, by the backend.
        const usesSocket = mounts.some((m) => m.kind === 'engine-socket-dir' || m.kind === 'engine-socket');
        const environment = { ...opts.builtins?.({ name, step: s.name }), ...statusVariables(config.format, decided.runOn), ...config.environment, ...envAxes, ...s.environment, ...opts.env };
        return {
          ...containerBase(s, resolveImage(s.image), environment, mounts, { client: !usesSocket, certDirs: [...new Set(certDirs)], ...(plainEngine ? { plain: true } : {}) }, config.workspace),
          dependsOn: (order.get(s.name) ?? []).filter((d) => selected.has(d)),
          runOn: decided.runOn,
          ...(decided.runOn.includes('failure') && statusNames(config.format) ? { statusEnvironment: { success: statusNames(config.format)!('success'), failure: statusNames(config.format)!('failure') } } : {}),
          timeoutMs: (s.timeoutSeconds ?? DEFAULT_STEP_TIMEOUT_SECONDS) * 1000,
          ignoreFailure: s.ignoreFailure,
          detach: s.detach,
          ...deployTargetOf(s, environment),
          ...(s.recorded ? { recorded: s.recorded } : {}),
          ...(s.execIn ? { execIn: s.execIn } : {}),
          ...(s.imageBuiltInJob ? { imageBuiltInJob: true } : {}),
          ...(s.github ? { github: s.github } : {}),
          ...notRunReason(s, pipelineWhen, decided, opts.only),
        };
      });
    const services: PlanService[] = config.services
      .filter((s) => !isDindImage(s.image))
      .map((s) => ({
        ...containerBase(
          { ...s, afterCommands: [], secrets: [] },
          resolveImage(s.image),
          { ...opts.builtins?.({ name }), ...config.environment, ...envAxes, ...s.environment },
          mountsFor(s.volumes),
          { client: false, certDirs: [] },
          config.workspace,
        ),
        aliases: s.aliases,
        ports: s.ports,
        ...(s.readyCommand ? { readyCommand: s.readyCommand } : {}),
      }));
    // A host path several containers mount is said once.
    for (const n of hostNotices) if (!notices.some((k) => k.message === n.message)) notices.push(n);
    const volumes = [...new Set([...steps, ...services].flatMap((c) => c.mounts.flatMap((m) => (m.kind === 'volume' ? [m.name] : []))))];
    const volumeFolders = config.steps.filter((s) => selected.has(s.name)).flatMap((s) => s.volumeFolders ?? []);
    const deployTargets = [...new Set(steps.filter((s) => !s.notRunBecause).flatMap((s) => (s.deployTarget ? [s.deployTarget] : [])))];
    // A step run inside another's container needs no image of its own.
    const images = [...new Set([...services.map((s) => s.image), ...steps.filter((s) => !s.notRunBecause && !s.execIn && !s.imageBuiltInJob).map((s) => s.image)])];
    for (const s of steps) if (!s.notRunBecause && s.image.includes('${')) problems.push({ position: at(config.steps.find((c) => c.name === s.name)!.at), message: `image "${s.image}" names a variable that is not set` });
    return { name, pipeline: config.name, matrix: axes, workspace: config.workspace, steps, services, volumes, ...(volumeFolders.length ? { volumeFolders } : {}), images, engineAliases, ...(plainEngine ? { plainEngine: true } : {}), ...(config.runnerLabels?.length ? { runnerLabels: config.runnerLabels } : {}), ...(config.title ? { title: config.title } : {}), copySource: !config.emptyWorkspace, ...(deployTargets.length ? { deployTargets } : {}), ...(config.format === 'gitlab' ? { secretsAsVariables: true } : {}), ...needsOf(config, source), notices, ...(config.github ? { github: config.github } : {}), ...(config.concurrency ? { concurrency: config.concurrency } : {}) };
  });
  throwProblems(problems, config.unsupported, plans.flatMap((p) => p.notices));
  return config.jobPerStep ? plans.flatMap((p) => jobsOfSteps(p, config, source)) : plans;
}

/** Whether a dind service answers without TLS: DOCKER_TLS_CERTDIR empty, or `--tls=false` among its arguments. */
function turnsTlsOff(s: ServiceConfig, vars: Record<string, string>): boolean {
  const dir = s.environment.DOCKER_TLS_CERTDIR ?? vars.DOCKER_TLS_CERTDIR;
  return dir === '' || [...(s.command ?? []), ...(s.entrypoint ?? [])].some((a) => a === '--tls=false' || a === '--tls=0');
}

/**
 * What the pipeline waits for, and after which outcomes it runs: Woodpecker's `runs_on`, or
 * Drone's trigger `status` (a pipeline that lists failure runs after a failed one).
 */
function needsOf(config: PipelineConfig, source: YamlSource): Pick<JobPlan, 'needs' | 'needsAt' | 'runWhen'> {
  if (!config.dependsOn?.length) return {};
  const outcomes = new Set(config.runsOn ?? config.when.flatMap((c) => c.status ?? []));
  const runWhen = outcomes.has('failure') ? (outcomes.has('success') ? 'always' : 'on_failure') : 'on_success';
  return { needs: config.dependsOn.map((d) => d.name), needsAt: config.dependsOn.map((d) => source.position(d.at)), runWhen };
}

/**
 * The deploy target a step names: Nestor's `deploy:` key, or NESTOR_DEPLOY_TARGET in its
 * environment, which every format can set (a Drone step's `environment`, a GitLab job's
 * `variables`, a GitHub step's `env`).
 */
function deployTargetOf(s: StepConfig, environment: Record<string, string>): { deployTarget?: string } {
  const name = s.deploy ?? environment.NESTOR_DEPLOY_TARGET;
  return name ? { deployTarget: name } : {};
}

/** Why a step will not run, if it will not; naming a step with --step runs it regardless. */
function notRunReason(s: StepConfig, pipeline: ReturnType<typeof evaluate>, own: ReturnType<typeof evaluate>, only: string[] | undefined): { notRunBecause?: string } {
  if (only?.includes(s.name)) return {};
  if (!pipeline.run) return { notRunBecause: `the pipeline's conditions: ${pipeline.reason}` };
  if (s.notRunBecause) return { notRunBecause: s.notRunBecause };
  if (!own.run) return { notRunBecause: own.reason! };
  return {};
}

function containerBase(
  c: Pick<StepConfig, 'name' | 'commands' | 'afterCommands' | 'entrypoint' | 'command' | 'secrets' | 'privileged' | 'networkMode' | 'workingDir' | 'allowExitCodes'> & { user?: string },
  image: string,
  environment: Record<string, string>,
  mounts: MountIntent[],
  engine: EngineUse,
  workspace: string,
) {
  return {
    name: c.name,
    image,
    ...(c.commands.length ? { script: stepScript(c.commands, c.afterCommands, c.allowExitCodes), commands: [...c.commands, ...c.afterCommands] } : {}),
    ...(c.entrypoint ? { entrypoint: c.entrypoint } : {}),
    ...(c.command ? { command: c.command } : {}),
    environment,
    secrets: c.secrets,
    privileged: c.privileged,
    mounts: [{ kind: 'workspace' as const, target: workspace, readOnly: false }, ...mounts],
    engine,
    ...(c.networkMode ? { networkMode: c.networkMode } : {}),
    workingDir: c.workingDir ? posix.resolve(workspace, c.workingDir) : workspace,
    ...(c.user !== undefined ? { user: c.user } : {}),
  };
}

function toMount(
  v: VolumeRef,
  config: PipelineConfig,
  socketDirs: Set<string>,
  trusted: boolean,
  problems: PipelineProblem[],
  notices: PipelineNotice[],
  source: YamlSource,
): MountIntent | undefined {
  const at = (path: VolumeRef['at'], key?: string) => source.position(path, key);
  const target = v.target;
  if (!target.startsWith('/')) problems.push({ position: at(v.at), message: `volume target "${target}" must be an absolute path` });
  if (v.source === '/var/run/docker.sock') return { kind: 'engine-socket', target };
  if (socketDirs.has(v.source)) return { kind: 'engine-socket-dir', target };
  const declared = config.volumes.find((d) => d.name === v.source);
  const hostPath = declared?.kind === 'host' ? declared.hostPath! : v.source.startsWith('/') ? v.source : undefined;
  // Drone's documented way to reach Docker: a host volume of the socket. It is the job's own engine's.
  if (hostPath === '/var/run/docker.sock') return { kind: 'engine-socket', target };
  if (hostPath !== undefined) {
    if (!trusted && v.readOnly) {
      // Read-only, the path is input from the host, which an untrusted job cannot have.
      problems.push({ position: at(declared?.kind === 'host' ? declared.at : v.at), message: `host path ${hostPath} cannot be mounted: the job is not trusted (run it on a runner started with --trusted, or drop the mount)` });
      return { kind: 'host', path: hostPath, target, readOnly: v.readOnly };
    }
    if (!trusted) return untrustedHostPath(hostPath, target, declared?.kind === 'host' ? declared.at : v.at, notices, source);
    return { kind: 'host', path: hostPath, target, readOnly: v.readOnly };
  }
  if (v.source.startsWith('.')) {
    const sub = posix.normalize(v.source);
    if (sub === '..' || sub.startsWith('../')) {
      problems.push({ position: at(v.at), message: `volume source ${v.source} leaves the workspace` });
    }
    return { kind: 'workspace', subPath: sub, target, readOnly: v.readOnly };
  }
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/.test(v.source)) problems.push({ position: at(v.at), message: `volume name "${v.source}" is not a valid name` });
  return { kind: 'volume', name: v.source, target, readOnly: v.readOnly };
}

/** How the run has gone so far, under Drone's and Woodpecker's names, for the steps (notifications) that read it. */
function statusNames(format: PipelineConfig['format']): ((status: 'success' | 'failure') => Record<string, string>) | undefined {
  if (format === 'drone') return (status) => ({ DRONE_BUILD_STATUS: status, DRONE_STAGE_STATUS: status });
  if (format === 'woodpecker') return (status) => ({ CI_PIPELINE_STATUS: status });
  return undefined;
}

/** A step that runs only after success knows the status already; one that may run after a failure is told when it starts. */
function statusVariables(format: PipelineConfig['format'], runOn: ('success' | 'failure')[]): Record<string, string> {
  return runOn.includes('failure') ? {} : (statusNames(format)?.('success') ?? {});
}

/**
 * A writable host path in a job that gets nothing of the host's. The job runs: with the
 * container's own name files, or with an empty volume of the job's where the path was, and
 * the notice says what that costs: nothing but time for a cache, the host's data otherwise.
 */
function untrustedHostPath(hostPath: string, target: string, at: VolumeRef['at'], notices: PipelineNotice[], source: YamlSource): MountIntent | undefined {
  const use = hostPathUse(hostPath, target);
  const trustedToo = 'on a runner started with --trusted the host path itself is mounted';
  if (use === 'container-file') {
    notices.push(source.notice(at, undefined, 'NESTOR_HOST_FILE_OWN', `host file ${hostPath} is not mounted: the container has its own ${target}, made by its engine (the name files for the job's network, where service names resolve; a cgroup filesystem of its own, writable when privileged); ${trustedToo}`, 'info'));
    return undefined;
  }
  const name = `host${hostPath.replace(/[^a-zA-Z0-9_.-]/g, '-')}`;
  if (use === 'scratch') {
    notices.push(source.notice(at, undefined, 'NESTOR_SCRATCH_EMPTY', `host path ${hostPath} at ${target} is scratch space: here it is an empty volume of the job, shared by its steps, which nothing reads after the job; ${trustedToo}`, 'info'));
  } else if (use === 'cache') {
    notices.push(source.notice(at, undefined, 'NESTOR_CACHE_COLD', `host path ${hostPath} (at ${target}) is a cache: here it is an empty volume of the job, shared by its steps, so the cache starts cold and only time is lost; ${trustedToo}`, 'info'));
  } else {
    notices.push(source.notice(at, undefined, 'NESTOR_HOST_PATH_EMPTY', `host path ${hostPath} (at ${target}) is an empty volume of the job here: an untrusted job gets nothing of the host's, so what the path holds on the host is not there and what the job leaves in it goes with the job; ${trustedToo}`, 'degraded'));
  }
  return { kind: 'volume', name, target, readOnly: false };
}

function selectSteps(config: PipelineConfig, order: Map<string, string[]>, only: string[] | undefined, problems: PipelineProblem[], source: YamlSource): Set<string> {
  const names = config.steps.map((s) => s.name);
  if (!only?.length) return new Set(names);
  const selected = new Set<string>();
  const add = (n: string) => {
    if (selected.has(n)) return;
    selected.add(n);
    for (const d of order.get(n) ?? []) add(d);
  };
  for (const n of only) {
    if (names.includes(n)) add(n);
    else if (!maybeUnread(config, n)) problems.push({ position: source.position(['steps']), message: `--step ${n}: there is no such step${didYouMean(n, names)}` });
  }
  return selected;
}

/** Glob patterns are compiled to RE2 programs: one too long is refused before it is compiled. */
function checkPatterns(config: PipelineConfig, source: YamlSource): void {
  const max = source.limits.regexLength;
  const owners: [Condition[], () => SourcePosition][] = [
    [config.when, () => source.position(config.at, config.format === 'drone' ? 'trigger' : 'when')],
    ...config.steps.map((s): [Condition[], () => SourcePosition] => [s.when, () => source.position(s.at, 'when')]),
  ];
  for (const [conditions, position] of owners) {
    for (const glob of patternsOf(conditions)) {
      if (glob.length > max) throw new PipelineLimitError('regexLength', max, position(), `a pattern of ${glob.length} characters`, glob.length);
    }
  }
}

function checkSecrets(config: PipelineConfig, available: string[] | undefined, problems: PipelineProblem[], source: YamlSource): PipelineNotice[] {
  const notices: PipelineNotice[] = [];
  for (const s of config.steps) {
    for (const secret of s.secrets) {
      if (available === undefined) {
        notices.push(source.notice(s.at, undefined, 'NESTOR_SECRET_NEEDED', `step ${s.name} uses the secret "${secret.name}" (as ${secret.env}): give it when the job runs (nestor run --secret ${secret.name}=VALUE)`, 'info'));
      } else if (!available.includes(secret.name)) {
        problems.push({ position: source.position(s.at), message: `step ${s.name} needs the secret "${secret.name}", which was not given (nestor run --secret ${secret.name}=VALUE; on a server, nestor secrets set ${secret.name} --repo OWNER/NAME, whose --event and --branch limits must allow this pipeline)` });
      }
    }
  }
  return notices;
}

/** `test (node=18)`; a GitHub job as GitHub names it, by its values only: `test (18, ubuntu-latest)`. */
function jobName(pipeline: string, axes: Record<string, string>, valuesOnly = false): string {
  const values = Object.entries(axes).map(([k, v]) => (valuesOnly ? v : `${k}=${v}`));
  return values.length ? `${pipeline} (${values.join(', ')})` : pipeline;
}


/**
 * What `privileged: true` means here, said by lint, plan and the job alike: an untrusted job's
 * engine lives in a user namespace, so the step is privileged there and nowhere else.
 */
export function privilegedNotice(name: string): string {
  return `${name} asks for privileged: in an untrusted job (the default) it gets every capability inside the job's user namespace, none on the host, and no host devices; where it needs more (a host device, a kernel module), run it on a runner its operator marks --trusted with --mode dind-caps`;
}
