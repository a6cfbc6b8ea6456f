import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { PLATFORM_UNAVAILABLE, REMOTE_UNREACHABLE, type PipelineNotice, type PipelineProblem, type SourcePosition } from '../errors.ts';
import { globMatches } from '../glob.ts';
import { PipelineLimitError } from '../limits.ts';
import { compileSlashPattern, RegexError, slashPattern, type Regex } from '../re2.ts';
import type { ImagePull, JobRecord, PipelineConfig, ServiceConfig, StepConfig } from '../model.ts';
import { check, type Place } from '../validate.ts';
import { closest, didYouMean } from '../suggest.ts';
import type { RunFacts } from '../when.ts';
import { YamlReference, YamlSource, type PathSegment } from '../yaml-source.ts';
import { Extends, isPlain } from './gitlab-extends.ts';
import { existsMatch, resolveIncludes } from './gitlab-include.ts';
import { unreadable } from './items.ts';
import { parseRule, RuleSyntaxError } from './gitlab-rules.ts';
import { DEFAULT_KEYS, defaultSchema, imageSchema, jobSchema, KEYWORDS, ruleSchema, serviceSchema, variablesSchema, type Job } from './gitlab-schema.ts';

/**
 * GitLab's `.gitlab-ci.yml`: each of its jobs becomes a job of its own (`jobPerStep`: read as
 * one step each, then split by compile), in its own engine with its own services and a fresh
 * workspace, as on GitLab; stages and `needs` order them, and artifacts pass from job to job
 * through the artifact store. `docker:dind` services are served by the job's own engine.
 * Includes are merged first, then `!reference` tags resolved, then `extends`, as GitLab does.
 */

export const GITLAB_WORKSPACE = '/builds/project';
const RESERVED = new Set(KEYWORDS);
const DEFAULT_STAGES = ['.pre', 'build', 'test', 'deploy', '.post'];

type Variables = z.infer<typeof variablesSchema>;
type Severity = PipelineNotice['severity'];

/** Keys recorded as data, with what happens to them here (all info: nothing the file means is lost in one run). */
const RECORDED: Record<string, string> = {
  artifacts: 'kept after the job (paths, exclude, when, expire_in) and unpacked into the workspace of the jobs after it; reports are recorded, not parsed',
  cache: 'recorded; a run starts without the cache (a miss), which costs time only',
  tags: 'the runner labels the job asks for: on a server it goes only to a runner that has them all (every runner has docker and linux; others: nestor runner --labels); nestor run runs it here',
  environment: 'recorded; deployments are not tracked',
  dependencies: 'read: the job gets the artifacts of the jobs it names only',
  interruptible: 'on a server, a newer pipeline of the ref cancels this one while every job started is interruptible',
  coverage: 'recorded; the coverage figure is not parsed from the log',
  resource_group: 'on a server, one job of the group runs at a time across the repository\'s pipelines, the others queued in order; one nestor run runs its jobs of a group one after another',
  retry: 'recorded; a failed job is not retried yet, its first run decides',
  manual_confirmation: 'recorded; a manual job runs only when named with --step',
  publish: 'recorded as the folder GitLab Pages would publish',
  pages: 'recorded as a deployment (like environment): the job runs and leaves its site in the workspace; serving it is GitLab Pages\' and does not happen here',
};
/** Keys whose meaning does not happen here: a degraded notice with its own code. */
const NOT_DONE: Record<string, [string, string]> = {
  secrets: ['NESTOR_SECRETS_UNAVAILABLE', 'external secret managers are not read: pass the values with --secret or runner secrets'],
  id_tokens: ['NESTOR_ID_TOKENS_UNAVAILABLE', 'OIDC ID tokens are not issued'],
  release: ['NESTOR_RELEASE_NOT_CREATED', 'the job runs, but no GitLab release is created'],
  hooks: ['NESTOR_HOOKS_IGNORED', 'runner hooks (pre_get_sources_script) are not run'],
  identity: ['NESTOR_IDENTITY_UNAVAILABLE', 'cloud identity federation is not available'],
  dast_configuration: ['NESTOR_DAST_UNAVAILABLE', 'DAST site and scanner profiles are not read'],
  run: ['NESTOR_CI_STEPS_UNSUPPORTED', 'CI/CD steps (run:) are not run'],
};

interface Decision {
  when: 'never' | ('success' | 'failure')[];
  allowFailure: boolean;
  exitCodes?: number[];
  note?: string;
  decidedBy?: string;
  variables: Variables;
  startIn?: string;
  manual?: boolean;
}

export function readGitlab(main: YamlSource, facts: RunFacts): PipelineConfig {
  const problems: PipelineProblem[] = [];
  const unsupported: PipelineProblem[] = [];
  const notices: PipelineNotice[] = [];
  if (main.value === null || main.value === undefined) return unreadable(main, 'gitlab', GITLAB_WORKSPACE, [{ position: main.position([]), message: 'the .gitlab-ci.yml is empty' }]);
  if (!isPlain(main.value)) return unreadable(main, 'gitlab', GITLAB_WORKSPACE, [{ position: main.position([]), message: 'a .gitlab-ci.yml is a map of jobs and keywords' }]);
  const predefined = builtinVars(facts);
  const mainVars = isPlain(main.value.variables) ? plainVars(main.value.variables as Variables) : {};
  const included = resolveIncludes(main, main.value, facts.includes, { ...predefined, ...mainVars }, problems, notices);
  const source = included.layers.length > 1 ? YamlSource.layered(main, included.value, included.layers) : main;
  const unreachable = included.unreachable;
  const raw = resolveReferences(included.value, source, problems, notices, unreachable);
  const maybeRemote = (what: string) => (unreachable.length ? `${what}; it may be defined in ${unreachable.slice(0, 3).join(', ')}${unreachable.length > 3 ? ', …' : ''}, not read from here` : undefined);

  // Stages that cannot be read are not checked against: every job would be reported for them.
  const stagesKey = raw.stages !== undefined ? 'stages' : 'types';
  const stagesRead = raw[stagesKey] === undefined ? DEFAULT_STAGES : check(source, z.array(z.string()), raw[stagesKey], [stagesKey], 'stages', problems);
  // `.pre` and `.post` are always first and last, written or not.
  const stages = ['.pre', ...(stagesRead ?? DEFAULT_STAGES).filter((s) => s !== '.pre' && s !== '.post'), '.post'];
  const globalVars = (raw.variables === undefined ? {} : check(source, variablesSchema, raw.variables, ['variables'], 'variables', problems)) ?? {};
  checkOptions(globalVars, source, problems);
  // The old top-level forms of `default`'s keys, each checked where it is written.
  const globalKeys = ['image', 'services', 'before_script', 'after_script', 'cache'].filter((k) => raw[k] !== undefined);
  const globals = check(source, defaultSchema, Object.fromEntries(globalKeys.map((k) => [k, raw[k]])), [], 'the pipeline', problems) ?? {};
  const defaults: Record<string, unknown> = { ...globals, ...(raw.default === undefined ? {} : (check(source, defaultSchema, raw.default, ['default'], 'default', problems) ?? {})) };
  if (raw.spec !== undefined) notices.push(source.notice([], 'spec', 'NESTOR_INCLUDE_INPUTS', 'spec: inputs are not interpolated ($[[ inputs.* ]] is left as written)', 'degraded'));

  runnerSettings(globalVars, ['variables'], source, notices);
  let vars = expand({ ...predefined, ...plainVars(globalVars) }, source, rawValues(globalVars));
  const workflow = readWorkflow(raw.workflow, source, vars, facts, problems, notices);
  if (workflow.variables) vars = expand({ ...vars, ...plainVars(workflow.variables) }, source, rawValues(workflow.variables));

  // Jobs: every top-level key that is not a keyword and not hidden (`.name`), after `extends`.
  const jobNames = Object.keys(raw).filter((k) => !RESERVED.has(k) && !k.startsWith('.'));
  const templates = new Extends(raw, Object.keys(raw).filter((k) => !RESERVED.has(k)), source, problems, unreachable.length ? (child, parent, at) => {
    notices.push(source.notice(at, undefined, REMOTE_UNREACHABLE, `${child} extends "${parent}", ${maybeRemote('which is not in the file')!.replace(/^which is not in the file; /, 'which ')}: the job is read without it`, 'degraded'));
  } : undefined);
  const unread: NonNullable<PipelineConfig['unread']> = [];
  const resolved = new Map<string, { job: Job; owner: (path: PathSegment[]) => string }>();
  for (const name of jobNames) {
    if (!isPlain(raw[name])) {
      // Most often a misspelled keyword (`stage:` for `stages:`), read as a job.
      problems.push({ position: source.position([], name), message: `"${name}" is neither a keyword nor a job (a job is a map with a script)${didYouMean(name, [...RESERVED])}` });
      unread.push({ name, at: [name] });
      continue;
    }
    const owner = (path: PathSegment[]) => templates.owner(name, path);
    // A problem is reported where it is written: in the job, or in the template it extends.
    const place: Place = (path) => {
      const where = owner(path);
      return { base: [where], what: where === name ? `job ${name}` : where };
    };
    // A key set to null is not set (GitLab reads `tags:` with nothing as no tags): it unsets what a template gave.
    const merged = withDefaults(withoutNulls(templates.resolve(name).merged), defaults);
    const job = check(source, jobSchema, merged, [name], `job ${name}`, problems, place);
    if (!job) {
      unread.push({ name, at: [name] });
      continue;
    }
    if (job.stage === undefined && job.type !== undefined) job.stage = job.type;
    // A script of the wrong type, or misspelled, is reported already; "no script" would say it twice.
    const misspelt = Object.keys(merged).some((k) => !(k in (jobSchema as unknown as z.ZodObject).shape) && closest(k, Object.keys((jobSchema as unknown as z.ZodObject).shape)) === 'script');
    if (job.script === undefined && job.trigger === undefined && merged.script === undefined && !misspelt) {
      const why = maybeRemote(`job ${name} has no script`);
      if (why) notices.push(source.notice([], name, REMOTE_UNREACHABLE, `${why}: the job is not run`, 'degraded'));
      else problems.push({ position: source.position([], name), message: `job ${name} has no script` });
    }
    if (stagesRead && job.stage !== undefined && !stages.includes(job.stage)) {
      const by = owner(['stage']) === name ? `job ${name}` : owner(['stage']);
      const message = `${by} uses stage "${job.stage}", which is not in stages (${(stagesRead ?? DEFAULT_STAGES).join(', ')})`;
      if (unreachable.length) notices.push(source.notice([owner(['stage'])], 'stage', REMOTE_UNREACHABLE, `${maybeRemote(message)}: the job runs after every stage`, 'degraded'));
      else problems.push({ position: source.position([owner(['stage']), 'stage']), message: `${message}${didYouMean(job.stage, stages)}` });
    }
    resolved.set(name, { job, owner });
  }

  // Each job's instances: one, or one per `parallel` index or matrix entry.
  const instances = new Map<string, { name: string; vars: Record<string, string>; parallel?: JobRecord['parallel'] }[]>();
  for (const [name, { job }] of resolved) instances.set(name, parallelInstances(name, job));
  const stageOf = (job: Job) => job.stage ?? 'test';
  const rank = (j: Job) => {
    const r = stages.indexOf(stageOf(j));
    return r < 0 ? stages.length - 1 : r;
  };
  // The jobs of the stages before each stage, made once per stage, not once per job.
  const before = stages.map((_, r) => [...resolved].filter(([, j]) => rank(j.job) < r).flatMap(([n]) => instances.get(n)!.map((i) => i.name)));
  const steps: StepConfig[] = [];
  // Each job has its own services; two jobs' services of one name and different images are
  // both kept, the second under a name of its own (its hostname stays the one GitLab gives).
  const services = new Map<string, ServiceConfig>();
  let jobId = 0;
  for (const [name, { job, owner }] of resolved) {
    const noticeAt = (key: string, code: string, message: string, severity: Severity) => notices.push(source.notice([owner([key])], key, code as `NESTOR_${string}`, `job ${name}: ${key} ${message}`, severity));
    for (const key of Object.keys(RECORDED)) if (key in job && (job as Record<string, unknown>)[key] !== undefined) noticeAt(key, 'NESTOR_KEY_RECORDED', RECORDED[key]!, 'info');
    if (name === 'pages' && job.pages === undefined) notices.push(source.notice([], name, 'NESTOR_KEY_RECORDED', `job pages: ${RECORDED.pages}`, 'info'));
    runnerSettings(job.variables ?? {}, [owner(['variables']), 'variables'], source, notices);
    const inheritVars = job.inherit?.variables;
    const globalsFor = inheritVars === false ? {} : Array.isArray(inheritVars) ? Object.fromEntries(Object.entries(vars).filter(([k]) => k in predefined || inheritVars.includes(k))) : vars;
    const platform = platformOf(job);
    if (platform) notices.push(source.notice([owner([platform.key])], platform.key, PLATFORM_UNAVAILABLE, `job ${name} asks for a ${platform.os} runner (${platform.why}); Nestor runs Linux containers, so the job is not run`, 'degraded'));
    const jobNeeds = needsOf(job, name, owner, instances, source, notices, unreachable);
    const image = job.image;
    const jobServices: string[] = [];
    for (const s of job.services ?? []) {
      const svc = toService(s, vars, [owner(['services']), 'services']);
      jobServices.push(keepService(services, svc));
    }
    for (const instance of instances.get(name)!) {
      jobId++;
      const jobOwn = { ...plainVars(job.variables ?? {}), ...instance.vars };
      const ciJob = {
        CI_JOB_NAME: instance.name,
        CI_JOB_NAME_SLUG: slug(instance.name),
        CI_JOB_STAGE: stageOf(job),
        CI_JOB_ID: String(jobId),
        ...(instance.parallel ? { CI_NODE_INDEX: String(instance.parallel.index), CI_NODE_TOTAL: String(instance.parallel.total) } : {}),
      };
      let jobVars = expand({ ...globalsFor, ...ciJob, ...jobOwn }, source, rawValues(job.variables ?? {}));
      const decision = workflow.run ? decide(job, jobVars, facts, source, owner, problems) : { when: 'never' as const, allowFailure: false, note: workflow.reason, variables: {} };
      if (Object.keys(decision.variables).length) jobVars = expand({ ...jobVars, ...plainVars(decision.variables) }, source, rawValues(decision.variables));
      const ownNames = new Set([...Object.keys(jobOwn), ...Object.keys(decision.variables)]);
      const startIn = decision.when !== 'never' && (decision.startIn ?? job.start_in) && (job.when === 'delayed' || decision.startIn) ? seconds(decision.startIn ?? job.start_in!) : undefined;
      const recorded: JobRecord = {
        stage: stageOf(job),
        imagePull: [DOCKER_AUTH_CONFIG],
        ...(jobNeeds.record ? { needs: jobNeeds.record } : {}),
        ...(job.dependencies ? { dependencies: job.dependencies } : {}),
        ...(job.artifacts !== undefined ? { artifacts: job.artifacts } : {}),
        ...(job.cache !== undefined ? { cache: job.cache } : {}),
        ...(job.environment !== undefined ? { environment: job.environment } : {}),
        ...(job.resource_group ? { resourceGroup: job.resource_group } : {}),
        ...(job.interruptible !== undefined ? { interruptible: job.interruptible } : {}),
        ...(job.coverage ? { coverage: job.coverage } : {}),
        ...(job.tags ? { tags: typeof job.tags === 'string' ? [job.tags] : job.tags } : {}),
        ...(job.retry !== undefined ? { retry: retryOf(job.retry) } : {}),
        ...(instance.parallel ? { parallel: instance.parallel } : {}),
        ...(job.trigger ? { trigger: triggerOf(job.trigger) } : {}),
        ...(startIn ? { startInSeconds: startIn } : {}),
        ...(decision.decidedBy ? { decidedBy: decision.decidedBy } : {}),
        ...(decision.manual ? { manual: true } : {}),
      };
      // As the compile fills it: the run's own variables (--env, a manual run's) over the file's.
      const imageName = image ? substitute(typeof image === 'string' ? image : image.name, { ...jobVars, ...(facts as { env?: Record<string, string> }).env }) : undefined;
      const unsetImage = imageName !== undefined && /\$\{?[A-Za-z_]/.test(imageName);
      if (unsetImage && unreachable.length > 0) notices.push(source.notice([owner(['image'])], 'image', REMOTE_UNREACHABLE, `job ${name}: image "${imageName}" names a variable that is not set; ${maybeRemote('it')!.replace(/^it; /, '')}: the job is not run`, 'degraded'));
      // A variable of the project's CI/CD settings, which the file cannot show: that job waits for it, the others run.
      else if (unsetImage) notices.push(source.notice([owner(['image'])], 'image', 'NESTOR_IMAGE_VARIABLE_UNSET', `job ${name}: image "${imageName}" names a variable that is not set (a CI/CD variable of the project's settings, on GitLab): the job is not run; give it with --env NAME=VALUE (nestor pipelines run --var on a server)`, 'degraded'));
      const notRun = platform ? `needs a ${platform.os} runner` : unsetImage ? 'its image names a variable that is not set' : job.trigger ? triggerNote(job, name, source, owner, notices, facts) : job.script === undefined && !misspeltScript(job) ? 'its script is not in the file (an include not read from here)' : undefined;
      const timeout = job.timeout ?? (defaults.timeout as string | undefined);
      steps.push({
        name: instance.name,
        ...(imageName !== undefined ? { image: imageName } : {}),
        commands: [...(startIn ? [`sleep ${startIn}`] : []), ...lines(job.before_script), ...lines(job.script)],
        afterCommands: lines(job.after_script),
        environment: {
          ...Object.fromEntries([...ownNames].map((k) => [k, jobVars[k] ?? ''])),
          ...ciJob,
        },
        secrets: [],
        privileged: false,
        volumes: [],
        ...(jobNeeds.dependsOn ? jobNeeds.dependsOn : { dependsOn: before[rank(job)]! }),
        when: decision.when === 'never' ? [] : [{ status: decision.when }],
        ...(decision.when === 'never' || notRun ? { notRunBecause: notRun ?? decision.note ?? 'not run' } : {}),
        ...(timeout !== undefined ? { timeoutSeconds: seconds(timeout) + (startIn ?? 0) } : {}),
        ignoreFailure: decision.allowFailure && !decision.exitCodes,
        ...(decision.exitCodes ? { allowExitCodes: decision.exitCodes } : {}),
        detach: false,
        services: jobServices,
        recorded,
        at: [name],
      });
    }
    // What does not happen here is lost only when the job runs: for one its rules leave out, it is said for information.
    const ownSteps = steps.slice(-instances.get(name)!.length);
    const skipped = ownSteps.every((s) => s.notRunBecause) ? ownSteps[0]?.notRunBecause : undefined;
    for (const [key, [code, meaning]] of Object.entries(NOT_DONE)) {
      if ((job as Record<string, unknown>)[key] === undefined) continue;
      noticeAt(key, code, `— ${meaning}${skipped ? ` (the job does not run in this pipeline: ${skipped})` : ''}`, skipped ? 'info' : 'degraded');
    }
  }
  if (steps.length === 0 && unread.length === 0 && unreachable.length) {
    notices.push(source.notice([], undefined, REMOTE_UNREACHABLE, `${maybeRemote('the file defines no job')}`, 'degraded'));
    unread.push({ at: [] });
  }
  return {
    name: 'gitlab',
    format: 'gitlab',
    file: main.file,
    ...(workflow.name ? { title: substitute(workflow.name, vars) } : {}),
    environment: { ...vars, CI_PROJECT_DIR: GITLAB_WORKSPACE, CI_BUILDS_DIR: '/builds' },
    steps,
    services: [...services.values()],
    jobPerStep: true,
    volumes: [],
    matrix: [{}],
    workspace: GITLAB_WORKSPACE,
    when: [],
    at: [],
    notices,
    problems,
    unsupported,
    unread,
  };
}

function misspeltScript(job: Job): boolean {
  return job.trigger !== undefined;
}

function withoutNulls(job: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(job).filter(([, v]) => v !== null));
}

/** Variables that set GitLab Runner itself (how it clones, feature flags, retries of its own steps). */
const RUNNER_SETTING = /^(GIT_(STRATEGY|DEPTH|CLEAN_FLAGS|FETCH_EXTRA_FLAGS|SUBMODULE_STRATEGY|SUBMODULE_DEPTH|SUBMODULE_PATHS|SUBMODULE_UPDATE_FLAGS|SUBMODULE_FORCE_HTTPS|CHECKOUT|CLONE_PATH|LFS_SKIP_SMUDGE)|FF_[A-Z0-9_]+|(ARTIFACT|CACHE)_COMPRESSION_LEVEL|TRANSFER_METER_FREQUENCY|(GET_SOURCES|ARTIFACT_DOWNLOAD|RESTORE_CACHE|EXECUTOR_JOB_SECTION)_ATTEMPTS|CI_DEBUG_TRACE|CI_DEBUG_SERVICES)$/;

/**
 * GitLab Runner pulls a job's image and services with the Docker config.json in
 * DOCKER_AUTH_CONFIG whenever the job has it, whether a CI/CD variable or written in the file:
 * every job records it, and it is looked up among the run's secrets, then the job's variables.
 */
const DOCKER_AUTH_CONFIG: ImagePull = { name: 'DOCKER_AUTH_CONFIG', variable: true, optional: true };

/** Each runner setting among `vars`, named once where it is written: the job gets it as a variable, and nothing else (but DOCKER_AUTH_CONFIG, which pulls use). */
function runnerSettings(vars: Variables, at: PathSegment[], source: YamlSource, notices: PipelineNotice[]): void {
  if ('DOCKER_AUTH_CONFIG' in vars) notices.push(source.notice(at, 'DOCKER_AUTH_CONFIG', 'NESTOR_PULL_SECRETS', 'DOCKER_AUTH_CONFIG: images are pulled with these registry credentials, as GitLab Runner does; the job has the variable too, as on GitLab, its passwords masked in the logs; written in the file, they are anyone\'s who reads it: give them with --secret DOCKER_AUTH_CONFIG instead', 'info'));
  for (const key of Object.keys(vars)) {
    if (!RUNNER_SETTING.test(key)) continue;
    const clone = key.startsWith('GIT_');
    notices.push(source.notice(at, key, 'NESTOR_RUNNER_SETTING', `${key} sets GitLab Runner itself; here it is only a variable of the job${clone ? ': Nestor copies the repository into the workspace as it is checked out' : ''}`, 'info'));
  }
}

/** A job's content with `default:`'s keys it does not set itself, as `inherit: default` allows. */
function withDefaults(job: Record<string, unknown>, defaults: Record<string, unknown>): Record<string, unknown> {
  const inherit = isPlain(job.inherit) ? job.inherit.default : undefined;
  if (inherit === false) return job;
  const keys = Array.isArray(inherit) ? DEFAULT_KEYS.filter((k) => inherit.includes(k)) : DEFAULT_KEYS;
  const out = { ...job };
  for (const k of keys) if (out[k] === undefined && defaults[k] !== undefined) out[k] = defaults[k];
  return out;
}

/** A variable's `options`: its value must be one of them, as GitLab checks. */
function checkOptions(vars: Variables, source: YamlSource, problems: PipelineProblem[]): void {
  for (const [k, v] of Object.entries(vars)) {
    if (!isPlain(v) || !Array.isArray(v.options)) continue;
    const value = v.value === undefined || v.value === null ? '' : String(v.value);
    if (!v.options.map(String).includes(value)) problems.push({ position: source.position(['variables', k], 'value'), message: `variable ${k}: the value "${value}" is not one of its options (${v.options.join(', ')})` });
  }
}

/** `!reference [.job, key, …]` tags, each replaced by the value it names (which may hold more, 10 deep). */
function resolveReferences(value: Record<string, unknown>, source: YamlSource, problems: PipelineProblem[], notices: PipelineNotice[], unreachable: string[]): Record<string, unknown> {
  const walk = (node: unknown, path: PathSegment[], depth: number): unknown => {
    if (node instanceof YamlReference) {
      const target = node.path.map(String);
      let found: unknown = value;
      for (const seg of target) found = isPlain(found) ? found[seg] : undefined;
      if (found === undefined) {
        const message = `!reference [${target.join(', ')}] names nothing in the file`;
        if (unreachable.length) notices.push(source.notice(path, undefined, REMOTE_UNREACHABLE, `${message}; it may be in ${unreachable.join(', ')}, not read from here: left out`, 'degraded'));
        else problems.push({ position: source.position(path), message: `${message}${didYouMean(target[0] ?? '', Object.keys(value))}` });
        return undefined;
      }
      if (depth >= 10) {
        problems.push({ position: source.position(path), message: '!reference tags refer to each other more than 10 deep' });
        return undefined;
      }
      return walk(found, path, depth + 1);
    }
    if (Array.isArray(node)) return node.map((v, i) => walk(v, [...path, i], depth)).filter((v) => v !== undefined);
    if (isPlain(node)) return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, walk(v, [...path, k], depth)]).filter(([, v]) => v !== undefined));
    return node;
  };
  const out = walk(value, [], 0) as Record<string, unknown>;
  // A list where a reference stood in a list of rules or needs is spliced in, as GitLab does.
  for (const job of Object.values(out)) {
    if (!isPlain(job)) continue;
    for (const key of ['rules', 'needs', 'tags', 'dependencies']) if (Array.isArray(job[key])) job[key] = (job[key] as unknown[]).flat(10);
  }
  return out;
}

/** `workflow:` — whether the pipeline runs at all, the variables its rule adds, and its name. */
function readWorkflow(
  value: unknown,
  source: YamlSource,
  vars: Record<string, string>,
  facts: RunFacts,
  problems: PipelineProblem[],
  notices: PipelineNotice[],
): { run: boolean; reason?: string; variables?: Variables; name?: string } {
  if (value === undefined || value === null) return { run: true };
  const schema = z.strictObject({
    rules: z.array(ruleSchema).optional(),
    name: z.string().optional(),
    auto_cancel: z.record(z.string(), z.unknown()).optional(),
  });
  const flat = isPlain(value) && Array.isArray(value.rules) ? { ...value, rules: value.rules.flat(10) } : value;
  const workflow = check(source, schema, flat, ['workflow'], 'workflow', problems);
  if (!workflow) return { run: true };
  if (workflow.auto_cancel) notices.push(source.notice(['workflow'], 'auto_cancel', 'NESTOR_KEY_RECORDED', 'workflow: auto_cancel is recorded; cancelling earlier runs is the server\'s', 'info'));
  const base = { ...(workflow.name ? { name: workflow.name } : {}) };
  if (!workflow.rules) return { run: true, ...base };
  const rulesAt: PathSegment[] = ['workflow', 'rules'];
  for (const [i, rule] of workflow.rules.entries()) {
    if (!ruleHolds(rule, vars, facts, source, [...rulesAt, i], problems)) continue;
    if (rule.when === 'never') return { run: false, reason: `workflow: rules (rule ${i + 1}) say when: never`, ...base };
    return { run: true, ...(rule.variables ? { variables: rule.variables } : {}), ...base };
  }
  return { run: false, reason: 'workflow: no rule matches, so GitLab makes no pipeline', ...base };
}

/** Whether a rule's `if`, `changes` and `exists` hold. */
function ruleHolds(rule: z.infer<typeof ruleSchema>, vars: Record<string, string>, facts: RunFacts, source: YamlSource, at: PathSegment[], problems: PipelineProblem[]): boolean {
  const limits = source.limits;
  if (rule.if !== undefined) {
    const test = readOrReport(() => parseRule(rule.if!, limits), () => source.position([...at, 'if']), `rule "${shown(rule.if)}"`, problems);
    if (!test || !test(vars)) return false;
  }
  if (rule.changes !== undefined) {
    const changes = listOfGlobs(isPlain(rule.changes) ? (rule.changes as { paths: string | string[] }).paths : rule.changes);
    for (const c of changes) if (c.length > limits.regexLength) throw new PipelineLimitError('regexLength', limits.regexLength, source.position([...at, 'changes']), `a pattern of ${c.length} characters`, c.length);
    if (facts.changedPaths && !facts.changedPaths.some((p) => changes.some((c) => globMatches(p, substitute(c, vars))))) return false;
  }
  if (rule.exists !== undefined && !existsMatch(facts.includes?.repoDir, rule.exists)) return false;
  return true;
}

function listOfGlobs(v: string | string[]): string[] {
  return typeof v === 'string' ? [v] : v;
}

/** `needs`, resolved to instances; needs of other pipelines and projects, and of jobs an unread include may define, are named. */
function needsOf(
  job: Job,
  name: string,
  owner: (path: PathSegment[]) => string,
  instances: Map<string, { name: string; vars: Record<string, string> }[]>,
  source: YamlSource,
  notices: PipelineNotice[],
  unreachable: string[],
): { dependsOn?: Pick<StepConfig, 'dependsOn' | 'dependsOnAt'>; record?: NonNullable<JobRecord['needs']> } {
  if (!job.needs) return {};
  const at: PathSegment[] = [owner(['needs']), 'needs'];
  const dependsOn: string[] = [];
  const dependsOnAt: PathSegment[][] = [];
  const record: NonNullable<JobRecord['needs']> = [];
  job.needs.forEach((n, i) => {
    const need = typeof n === 'string' ? { job: n } : n;
    const where = typeof n === 'string' ? [...at, i] : [...at, i, 'job'];
    if ('pipeline' in need && need.pipeline !== undefined || 'project' in need && need.project !== undefined) {
      notices.push(source.notice([...at], String(i), REMOTE_UNREACHABLE, `job ${name} needs ${need.job ?? 'a job'} of another ${'project' in need && need.project ? `project (${need.project})` : 'pipeline'}: its artifacts are not fetched from here`, 'degraded'));
      return;
    }
    const target = need.job!;
    // A job's name, or one instance of its parallel:matrix by its own name (`build: [amd64, gcc]`), as GitLab takes either.
    const exact = [...instances.values()].flatMap((list) => list.filter((inst) => inst.name === target));
    const all = instances.get(target) ?? (exact.length ? exact.slice(0, 1) : undefined);
    const optional = 'optional' in need && need.optional === true;
    if (!all) {
      if (optional) return;
      if (unreachable.length) {
        notices.push(source.notice([...at], String(i), REMOTE_UNREACHABLE, `job ${name} needs "${target}", which is not in the file; it may be defined in ${unreachable.join(', ')}, not read from here: the need is left out`, 'degraded'));
        return;
      }
      dependsOn.push(target);
      dependsOnAt.push(where);
      return;
    }
    const matrix = 'parallel' in need ? need.parallel?.matrix : undefined;
    const chosen = matrix ? all.filter((inst) => matrix.some((m) => Object.entries(m).every(([k, v]) => (Array.isArray(v) ? v.map(String) : [String(v)]).includes(inst.vars[k] ?? '')))) : all;
    for (const inst of chosen) {
      dependsOn.push(inst.name);
      dependsOnAt.push(where);
      record.push({ job: inst.name, artifacts: !('artifacts' in need) || need.artifacts !== false, optional });
    }
  });
  return { dependsOn: { dependsOn, dependsOnAt }, record };
}

/** `parallel: N` (`job 1/N` …) and `parallel: matrix` (`job: [a, b]`), with their variables. */
function parallelInstances(name: string, job: Job): { name: string; vars: Record<string, string>; parallel?: JobRecord['parallel'] }[] {
  const p = job.parallel;
  if (p === undefined) return [{ name, vars: {} }];
  if (typeof p === 'number') {
    return Array.from({ length: p }, (_, i) => ({ name: `${name} ${i + 1}/${p}`, vars: {}, parallel: { index: i + 1, total: p } }));
  }
  const combos = p.matrix.flatMap((entry) => {
    let rows: Record<string, string>[] = [{}];
    for (const [k, v] of Object.entries(entry)) {
      const values = (Array.isArray(v) ? v : [v]).map(String);
      rows = rows.flatMap((r) => values.map((x) => ({ ...r, [k]: x })));
    }
    return rows;
  });
  return combos.map((vars, i) => ({ name: `${name}: [${Object.values(vars).join(', ')}]`, vars, parallel: { index: i + 1, total: combos.length, matrix: vars } }));
}

function retryOf(r: NonNullable<Job['retry']>): NonNullable<JobRecord['retry']> {
  if (typeof r === 'number') return { max: r };
  return {
    max: r.max ?? 0,
    ...(r.when !== undefined ? { when: typeof r.when === 'string' ? [r.when] : r.when } : {}),
    ...(r.exit_codes !== undefined ? { exitCodes: typeof r.exit_codes === 'number' ? [r.exit_codes] : r.exit_codes } : {}),
  };
}

function triggerOf(t: NonNullable<Job['trigger']>): NonNullable<JobRecord['trigger']> {
  if (typeof t === 'string') return { project: t };
  if ('project' in t) return { project: t.project, ...(t.strategy ? { strategy: t.strategy } : {}) };
  const include = typeof t.include === 'string' ? [t.include] : t.include.map((i) => (typeof i === 'string' ? i : 'local' in i ? i.local : JSON.stringify(i)));
  return { include, ...(t.strategy ? { strategy: t.strategy } : {}) };
}

/** Why a trigger job does not run here: a child pipeline from a local file is read and checked; another project's is not reachable. */
function triggerNote(job: Job, name: string, source: YamlSource, owner: (path: PathSegment[]) => string, notices: PipelineNotice[], facts: RunFacts): string {
  const t = job.trigger!;
  const at: PathSegment[] = [owner(['trigger'])];
  if (typeof t === 'string' || 'project' in t) {
    const project = typeof t === 'string' ? t : t.project;
    notices.push(source.notice(at, 'trigger', REMOTE_UNREACHABLE, `job ${name} starts a pipeline of the project ${project}, which is not reachable from here`, 'degraded'));
    return `it triggers a pipeline of ${project}`;
  }
  const entries = typeof t.include === 'string' ? [{ local: t.include }] : t.include.map((i) => (typeof i === 'string' ? { local: i } : i));
  const locals = entries.filter((e): e is { local: string } => 'local' in e);
  const elsewhere = entries.filter((e) => !('local' in e));
  if (elsewhere.length) notices.push(source.notice([...at, 'trigger'], 'include', REMOTE_UNREACHABLE, `job ${name}'s child pipeline includes content from outside the repository (${elsewhere.map((e) => Object.keys(e)[0]).join(', ')}), not read from here`, 'degraded'));
  const jobs = locals.map((l) => childJobs(l.local, facts));
  notices.push(
    source.notice(at, 'trigger', 'NESTOR_CHILD_PIPELINE_NOT_RUN', `job ${name} triggers the child pipeline ${locals.map((l) => l.local).join(', ')}${jobs.every((j) => j !== undefined) ? ` (${jobs.reduce((a, b) => a! + b!, 0)} jobs, read)` : ''}: it is recorded, not run yet (Nestor runs one pipeline per file)`, 'degraded'),
  );
  return 'it triggers a child pipeline';
}

/** How many jobs a child pipeline's file has, when it can be read. */
function childJobs(path: string, facts: RunFacts): number | undefined {
  const repo = facts.includes?.repoDir;
  if (!repo) return undefined;
  try {
    const text = readFileSyncSafe(`${repo}/${path.replace(/^\/+/, '')}`);
    if (text === undefined) return undefined;
    const child = YamlSource.parse(path, text);
    return isPlain(child.value) ? Object.keys(child.value).filter((k) => !RESERVED.has(k) && !k.startsWith('.')).length : undefined;
  } catch {
    return undefined;
  }
}

/** A platform the job asks for that Nestor's Linux containers are not: by its tags or its image. */
function platformOf(job: Job): { os: string; why: string; key: string } | undefined {
  const tags = typeof job.tags === 'string' ? [job.tags] : (job.tags ?? []);
  for (const t of tags) {
    if (/windows|win\d|\bwin\b/i.test(t)) return { os: 'Windows', why: `tag ${t}`, key: 'tags' };
    if (/mac ?os|osx|darwin|\bmac\b|apple|xcode/i.test(t)) return { os: 'macOS', why: `tag ${t}`, key: 'tags' };
  }
  const image = typeof job.image === 'string' ? job.image : job.image?.name;
  if (image && /^mcr\.microsoft\.com\/(windows|dotnet\/framework)|servercore|nanoserver/i.test(image)) return { os: 'Windows', why: `image ${image}`, key: 'image' };
  if (image && /^macos-\d/i.test(image)) return { os: 'macOS', why: `image ${image}`, key: 'image' };
  return undefined;
}

function lines(s: Job['script']): string[] {
  if (s === undefined) return [];
  return typeof s === 'string' ? [s] : s.flatMap((x) => lines(x));
}

function plainVars(v: Variables): Record<string, string> {
  return Object.fromEntries(
    Object.entries(v).map(([k, x]) => [k, x === null ? '' : isPlain(x) ? (x.value === undefined || x.value === null ? '' : String(x.value)) : String(x)]),
  );
}

/** The variables written `expand: false`: their values are taken as written. */
function rawValues(v: Variables): Set<string> {
  return new Set(Object.entries(v).filter(([, x]) => isPlain(x) && x.expand === false).map(([k]) => k));
}

/** `$VAR`, `${VAR}` and `%VAR%` from the variables, `$$` for a `$`, as GitLab expands them. */
export function substitute(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)|%([A-Za-z_][A-Za-z0-9_]*)%/g, (whole, a: string | undefined, b: string | undefined, c: string | undefined) =>
    whole === '$$' ? '$$' : (vars[(a ?? b ?? c)!] ?? whole),
  );
}

/**
 * GitLab expands `$VAR` inside variable values, from the variables defined so far. What they
 * expand to counts against the size limit: `B: $A$A$A…`, `C: $B$B$B…` doubles without end.
 */
function expand(vars: Record<string, string>, source: YamlSource, raw: Set<string> = new Set()): Record<string, string> {
  const out = { ...vars };
  let total = 0;
  for (const k of Object.keys(out)) {
    if (!raw.has(k)) out[k] = substitute(out[k]!, out);
    total += out[k]!.length;
    if (total > source.limits.bytes) throw new PipelineLimitError('bytes', source.limits.bytes, source.position(['variables'], k), `the variables expand to more than ${source.limits.bytes} characters (at ${k})`, total);
  }
  return out;
}

function slug(text: string): string {
  return text.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 63);
}

/** GitLab's predefined variables a job expects, from what the run is about. */
function builtinVars(facts: RunFacts): Record<string, string> {
  const event = facts.event ?? 'push';
  const tag = event === 'tag' ? (facts.tag ?? facts.branch ?? '') : '';
  const branch = tag ? '' : (facts.branch ?? '');
  const ref = tag || branch;
  const sha = facts.commit ?? '0000000000000000000000000000000000000000';
  const project = facts.project ?? 'nestor/project';
  const server = 'https://gitlab.nestor.local';
  const registry = 'registry.nestor.local';
  const source = { pull_request: 'merge_request_event', cron: 'schedule', manual: 'web', tag: 'push' }[event] ?? event;
  const mr = event === 'pull_request';
  return {
    CI: 'true',
    GITLAB_CI: 'true',
    CI_SERVER: 'yes',
    CI_SERVER_URL: server,
    CI_SERVER_HOST: 'gitlab.nestor.local',
    CI_API_V4_URL: `${server}/api/v4`,
    CI_PROJECT_DIR: GITLAB_WORKSPACE,
    CI_PROJECT_PATH: project,
    CI_PROJECT_PATH_SLUG: slug(project),
    CI_PROJECT_NAME: project.split('/').pop()!,
    CI_PROJECT_NAMESPACE: project.split('/').slice(0, -1).join('/'),
    CI_PROJECT_URL: `${server}/${project}`,
    CI_PROJECT_ID: '1',
    CI_COMMIT_SHA: sha,
    CI_COMMIT_SHORT_SHA: sha.slice(0, 8),
    CI_COMMIT_BEFORE_SHA: '0000000000000000000000000000000000000000',
    ...(branch && !mr ? { CI_COMMIT_BRANCH: branch } : {}),
    ...(tag ? { CI_COMMIT_TAG: tag } : {}),
    CI_COMMIT_REF_NAME: ref,
    CI_COMMIT_REF_SLUG: slug(ref),
    CI_COMMIT_REF_PROTECTED: 'false',
    CI_DEFAULT_BRANCH: facts.defaultBranch ?? 'main',
    CI_PIPELINE_SOURCE: source,
    CI_PIPELINE_ID: '1',
    CI_PIPELINE_IID: '1',
    CI_REGISTRY: registry,
    CI_REGISTRY_IMAGE: `${registry}/${project.toLowerCase()}`,
    ...(mr
      ? {
          CI_MERGE_REQUEST_ID: '1',
          CI_MERGE_REQUEST_IID: '1',
          CI_MERGE_REQUEST_SOURCE_BRANCH_NAME: branch,
          CI_MERGE_REQUEST_TARGET_BRANCH_NAME: facts.defaultBranch ?? 'main',
          CI_MERGE_REQUEST_EVENT_TYPE: 'detached',
          CI_MERGE_REQUEST_PROJECT_PATH: project,
        }
      : {}),
  };
}

/**
 * GitLab's default service aliases: `docker:dind` → docker, `org/img:1` → org__img and org-img;
 * a private registry's port is dropped, as GitLab Runner drops it (`reg:5000/a/b` → reg__a__b).
 */
export function serviceAliases(image: string): string[] {
  const name = image.split('@')[0]!.replace(/:[^/]*$/, '').replace(/^([^/]+):\d+\//, '$1/');
  return [...new Set([name.replaceAll('/', '__'), name.replaceAll('/', '-')])];
}

/**
 * Adds a job's service to the pipeline's, answering the name it is kept under: the same
 * service of several jobs is kept once; another image under a name already taken gets a name
 * of its own, and keeps the first one as an alias, which its job alone reaches it by.
 */
function keepService(services: Map<string, ServiceConfig>, svc: ServiceConfig): string {
  const identity = (s: ServiceConfig) => JSON.stringify([s.image, s.environment, s.entrypoint, s.command]);
  for (const [name, kept] of services) {
    const sameName = name === svc.name || (name.startsWith(`${svc.name}-`) && kept.aliases[0] === svc.name);
    if (sameName && identity(kept) === identity(svc)) return name;
  }
  if (!services.has(svc.name)) {
    services.set(svc.name, svc);
    return svc.name;
  }
  let n = 2;
  while (services.has(`${svc.name}-${n}`)) n++;
  const renamed = { ...svc, name: `${svc.name}-${n}`, aliases: [svc.name, ...svc.aliases] };
  services.set(renamed.name, renamed);
  return renamed.name;
}

function toService(s: z.infer<typeof serviceSchema>, vars: Record<string, string>, at: PathSegment[]): ServiceConfig {
  const spec = typeof s === 'string' ? { name: s } : s;
  const image = substitute(spec.name, vars);
  const aliases = serviceAliases(image);
  const written = 'alias' in spec && spec.alias ? spec.alias.split(',').map((a) => a.trim()).filter(Boolean) : [];
  const primary = written[0] ?? aliases[0]!;
  return {
    name: primary.replace(/[^a-zA-Z0-9_.-]/g, '-'),
    image,
    aliases: [...new Set([...written.slice(1), ...aliases])].filter((a) => a !== primary),
    environment: { ...vars, ...(typeof s === 'object' && s.variables ? Object.fromEntries(Object.entries(s.variables).map(([k, v]) => [k, v === null ? '' : String(v)])) : {}) },
    commands: [],
    ...('entrypoint' in spec && spec.entrypoint ? { entrypoint: spec.entrypoint } : {}),
    ...('command' in spec && spec.command ? { command: spec.command } : {}),
    ports: [],
    privileged: false,
    volumes: [],
    at,
  };
}

const REF_KEYWORDS = new Set(['branches', 'tags', 'merge_requests', 'schedules', 'web', 'api', 'triggers', 'pipelines', 'pushes', 'external', 'external_pull_requests', 'chat']);

/** What `rules`, `only`/`except` and `when` decide for a job, evaluated now. */
function decide(job: Job, vars: Record<string, string>, facts: RunFacts, source: YamlSource, owner: (path: PathSegment[]) => string, problems: PipelineProblem[]): Decision {
  let when = job.when ?? 'on_success';
  const af = (a: Job['allow_failure']) => (a === undefined ? undefined : typeof a === 'boolean' ? { allow: a } : { allow: true, codes: typeof a.exit_codes === 'number' ? [a.exit_codes] : a.exit_codes });
  let allow = af(job.allow_failure) ?? { allow: when === 'manual' };
  let variables: Variables = {};
  let decidedBy: string | undefined;
  let startIn: string | undefined;
  if (job.rules) {
    const rulesAt: PathSegment[] = [owner(['rules']), 'rules'];
    // Every rule is read, and its patterns compiled, before any is evaluated: a pattern RE2
    // cannot run is reported even in a rule that is never reached.
    const held = job.rules.map((r, i) => ruleHolds(r, vars, facts, source, [...rulesAt, i], problems));
    const match = held.indexOf(true);
    if (match < 0) return { when: 'never', allowFailure: false, note: 'no rule matches: not run', decidedBy: 'rules: none matches', variables };
    const rule = job.rules[match]!;
    decidedBy = `rules: rule ${match + 1}${rule.if ? ` (if: ${shown(rule.if)})` : ''}`;
    if (rule.when) when = rule.when;
    if (rule.allow_failure !== undefined) allow = af(rule.allow_failure)!;
    else if (rule.when === 'manual' && job.allow_failure === undefined) allow = { allow: false };
    if (rule.variables) variables = rule.variables;
    if (rule.start_in) startIn = rule.start_in;
  } else {
    const onlyRefs = job.only ?? (job.except ? undefined : ['branches', 'tags']);
    const refsOf = (r: NonNullable<Job['only']>) => (typeof r === 'string' ? [r] : Array.isArray(r) ? r : r.refs === undefined ? undefined : typeof r.refs === 'string' ? [r.refs] : r.refs);
    const matches = (key: 'only' | 'except', r: NonNullable<Job['only']>): boolean => {
      const list = refsOf(r);
      const base: PathSegment[] = [owner([key]), key, ...(typeof r === 'object' && !Array.isArray(r) ? ['refs'] : [])];
      const refOk = list === undefined || refPatterns(list, base, source, problems).some((p) => refMatches(p, facts));
      if (typeof r !== 'object' || Array.isArray(r)) return refOk;
      const varsOk = r.variables === undefined || listOfGlobs(r.variables).some((expr, i) => readOrReport(() => parseRule(expr, source.limits), () => source.position([owner([key]), key, 'variables', i]), `${key} variables "${shown(expr)}"`, problems)?.(vars) ?? false);
      const changes = r.changes === undefined ? undefined : listOfGlobs(isPlain(r.changes) ? (r.changes as { paths: string | string[] }).paths : (r.changes as string | string[]));
      const changesOk = !changes || !facts.changedPaths || facts.changedPaths.some((p) => changes.some((c) => globMatches(p, c)));
      return key === 'only' ? refOk && varsOk && changesOk : refOk && varsOk && changesOk;
    };
    const ref = facts.tag ?? facts.branch ?? '';
    if (onlyRefs && !matches('only', onlyRefs)) return { when: 'never', allowFailure: false, note: `only: ${ref || 'this ref'} (${facts.event ?? 'push'}) is not listed`, decidedBy: 'only', variables };
    if (job.except && matches('except', job.except)) return { when: 'never', allowFailure: false, note: `except: ${ref || 'this ref'} is listed`, decidedBy: 'except', variables };
    decidedBy = job.only ? 'only' : job.except ? 'except' : undefined;
  }
  const allowFailure = allow.allow;
  const base = { allowFailure, ...(allow.codes ? { exitCodes: allow.codes } : {}), variables, ...(decidedBy ? { decidedBy } : {}), ...(startIn ? { startIn } : {}) };
  switch (when) {
    case 'never':
      return { ...base, when: 'never', note: 'when: never' };
    case 'manual':
      return { ...base, when: 'never', note: 'manual job: not run until someone starts it (nestor pipelines play; here, --step)', manual: true };
    case 'on_failure':
      return { ...base, when: ['failure'] };
    case 'always':
      return { ...base, when: ['success', 'failure'] };
    case 'delayed':
      return { ...base, when: ['success'], startIn: startIn ?? job.start_in ?? '0s' };
    default:
      return { ...base, when: ['success'] };
  }
}

/** Whether a ref of `only`/`except` (a keyword, a name, `name@project` or a /pattern/) matches the run. */
function refMatches(p: { text: string; regex?: Regex }, facts: RunFacts): boolean {
  const event = facts.event ?? 'push';
  const ref = event === 'tag' ? (facts.tag ?? facts.branch ?? '') : (facts.branch ?? '');
  const text = p.text.replace(/@[\w./-]+$/, '');
  if (REF_KEYWORDS.has(text)) {
    switch (text) {
      case 'branches':
        return event === 'push' || event === 'manual' || event === 'api';
      case 'tags':
        return event === 'tag';
      case 'merge_requests':
        return event === 'pull_request';
      case 'schedules':
        return event === 'cron';
      case 'web':
        return event === 'manual';
      case 'pushes':
        return event === 'push' || event === 'tag';
      default:
        return event === text;
    }
  }
  if (p.regex) return p.regex.test(ref);
  return text === ref;
}

function readFileSyncSafe(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * The refs of `only`/`except`, each with its pattern when it is written `/pattern/flags` (as
 * GitLab tells a pattern from a name: flags among i, m, s, U; anything else is a name).
 */
function refPatterns(list: string[], base: PathSegment[], source: YamlSource, problems: PipelineProblem[]): { text: string; regex?: Regex }[] {
  return list.map((text, i) => {
    const written = slashPattern(text);
    if (!written || !/^[imsU]*$/.test(written.flags)) return { text };
    const regex = readOrReport(() => compileSlashPattern(written.pattern, written.flags, source.limits), () => source.position([...base, i]), `${String(base[1])} "${shown(text)}"`, problems);
    return regex ? { text, regex } : { text };
  });
}

/**
 * Reads an expression or pattern: what is wrong with it (its syntax, a construct RE2 cannot
 * run) is reported where it is written and gives undefined; a limit passed is thrown.
 */
function readOrReport<T>(read: () => T, at: () => SourcePosition, what: string, problems: PipelineProblem[]): T | undefined {
  try {
    return read();
  } catch (err) {
    if (err instanceof RegexError && err.limit) throw new PipelineLimitError(err.limit.name, err.limit.max, at(), `${what}: ${err.message}`, err.limit.actual);
    if (!(err instanceof RegexError || err instanceof RuleSyntaxError)) throw err;
    problems.push({ position: at(), message: `${what}: ${err.message}` });
    return undefined;
  }
}

/** User text quoted in a message, cut short: a message need not repeat a megabyte. */
function shown(text: string): string {
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/** GitLab's durations: `90`, `1h 30m`, `3 hours 30 minutes`, `2 days`, `10m30s`. */
function seconds(text: string | number): number {
  if (typeof text === 'number') return text;
  if (/^\s*\d+\s*$/.test(text)) return Number(text);
  let total = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)\s*(d|days?|h|hours?|hrs?|m|mins?|minutes?|s|secs?|seconds?|w|weeks?)(?![a-z])/gi)) {
    const unit = m[2]!.charAt(0).toLowerCase();
    total += Number(m[1]) * ({ w: 604800, d: 86400, h: 3600, m: 60, s: 1 } as Record<string, number>)[unit]!;
  }
  return Math.round(total) || 3600;
}
