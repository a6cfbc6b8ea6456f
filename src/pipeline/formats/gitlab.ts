import { z } from 'zod';
import type { PipelineNotice, PipelineProblem, SourcePosition } from '../errors.ts';
import { globMatches } from '../glob.ts';
import { PipelineLimitError } from '../limits.ts';
import { compileSlashPattern, RegexError, slashPattern, type Regex } from '../re2.ts';
import type { PipelineConfig, ServiceConfig, StepConfig } from '../model.ts';
import { check, type Place } from '../validate.ts';
import { closest, didYouMean } from '../suggest.ts';
import type { RunFacts } from '../when.ts';
import type { PathSegment, YamlSource } from '../yaml-source.ts';
import { scalar, stringList } from '../common.ts';
import { Extends, isPlain } from './gitlab-extends.ts';
import { unreadable } from './items.ts';
import { parseRule, RuleSyntaxError } from './gitlab-rules.ts';
import { substitute } from '../compile.ts';

/**
 * GitLab's `.gitlab-ci.yml`: its jobs become the steps of one Nestor job, in one nested engine
 * with one workspace (so artifacts need no upload between them). Stages order the steps,
 * `needs` makes a graph, `docker:dind` services are served by the job's own engine.
 */

export const GITLAB_WORKSPACE = '/builds/project';
const RESERVED = new Set(['stages', 'variables', 'image', 'services', 'before_script', 'after_script', 'default', 'workflow', 'include', 'cache', 'pages']);
const DEFAULT_STAGES = ['.pre', 'build', 'test', 'deploy', '.post'];

const imageSchema = z.union([z.string(), z.strictObject({ name: z.string(), entrypoint: z.array(z.string()).optional(), pull_policy: z.unknown().optional() })]);
const serviceSchema = z.union([
  z.string(),
  z.strictObject({
    name: z.string(),
    alias: z.string().optional(),
    entrypoint: z.array(z.string()).optional(),
    command: z.array(z.string()).optional(),
    variables: z.record(z.string(), scalar).optional(),
    pull_policy: z.unknown().optional(),
  }),
]);
const script = z.union([z.string(), z.array(z.union([z.string(), z.array(z.string())]))]);
const ruleSchema = z.strictObject({
  if: z.string().optional(),
  when: z.enum(['on_success', 'on_failure', 'always', 'never', 'manual', 'delayed']).optional(),
  changes: z.union([z.array(z.string()), z.strictObject({ paths: z.array(z.string()) })]).optional(),
  allow_failure: z.boolean().optional(),
  variables: z.record(z.string(), scalar).optional(),
  exists: z.unknown().optional(),
});
const variables = z.record(z.string(), z.union([scalar, z.strictObject({ value: z.string(), description: z.string().optional(), options: z.unknown().optional(), expand: z.boolean().optional() })]));
const refs = z.union([z.array(z.string()), z.strictObject({ refs: z.array(z.string()).optional(), changes: z.array(z.string()).optional(), variables: z.array(z.string()).optional() })]);

/** Accepted for compatibility, with what they mean here; reported as notices. */
const NOTED: Record<string, ['info' | 'degraded', string]> = {
  artifacts: ['info', 'all jobs share one workspace, so artifacts reach later jobs without an upload'],
  cache: ['info', 'nothing is cached between runs; the image cache is shared'],
  tags: ['info', 'the job runs where `nestor run` or the runner runs it'],
  environment: ['info', 'deployment environments are not tracked'],
  retry: ['degraded', 'failed jobs are not retried'],
  dependencies: ['info', 'all jobs share one workspace'],
  interruptible: ['info', 'every job can be cancelled'],
  coverage: ['info', 'coverage is not parsed'],
  resource_group: ['info', 'jobs of one pipeline never run twice at once'],
  id_tokens: ['degraded', 'not issued'],
  release: ['degraded', 'releases are not created'],
};
const REFUSED: Record<string, string> = {
  trigger: 'downstream pipelines are not supported',
  parallel: 'use Nestor\'s `matrix` instead',
  secrets: 'external secret managers are not supported; pass secrets with --secret',
  inherit: 'not supported',
  hooks: 'not supported',
};
const recognised = Object.fromEntries([...Object.keys(NOTED), ...Object.keys(REFUSED)].map((k) => [k, z.unknown().optional()]));

const jobSchema = z.strictObject({
  ...recognised,
  stage: z.string().optional(),
  image: imageSchema.optional(),
  services: z.array(serviceSchema).optional(),
  variables: variables.optional(),
  before_script: script.optional(),
  script: script.optional(),
  after_script: script.optional(),
  needs: z.array(z.union([z.string(), z.strictObject({ job: z.string(), artifacts: z.boolean().optional(), optional: z.boolean().optional() })])).optional(),
  rules: z.array(ruleSchema).optional(),
  only: refs.optional(),
  except: refs.optional(),
  allow_failure: z.union([z.boolean(), z.strictObject({ exit_codes: z.union([z.number(), z.array(z.number())]) })]).optional(),
  timeout: z.string().optional(),
  when: z.enum(['on_success', 'on_failure', 'always', 'manual', 'delayed', 'never']).optional(),
  extends: stringList.optional(),
  start_in: z.string().optional(),
});

const defaultSchema = z.strictObject({
  image: imageSchema.optional(),
  services: z.array(serviceSchema).optional(),
  before_script: script.optional(),
  after_script: script.optional(),
  timeout: z.string().optional(),
  tags: z.unknown().optional(),
  cache: z.unknown().optional(),
  artifacts: z.unknown().optional(),
  retry: z.unknown().optional(),
  interruptible: z.unknown().optional(),
});

/** The keys of `default` that may also be written at the top level, as older files do. */
const globalSchema = defaultSchema.pick({ image: true, services: true, before_script: true, after_script: true });

type Job = z.infer<typeof jobSchema>;

export function readGitlab(source: YamlSource, facts: RunFacts): PipelineConfig {
  const problems: PipelineProblem[] = [];
  const unsupported: PipelineProblem[] = [];
  const notices: PipelineNotice[] = [];
  const raw = source.value ?? {};
  if (!isPlain(raw)) return unreadable(source, 'gitlab', GITLAB_WORKSPACE, [{ position: source.position([]), message: 'a .gitlab-ci.yml is a map of jobs and keywords' }]);
  if ('include' in raw) unsupported.push({ position: source.position([], 'include'), message: '"include" is not supported: inline the included jobs' });
  if ('workflow' in raw) notices.push(source.notice([], 'workflow', 'NESTOR_WORKFLOW_IGNORED', 'workflow: rules for the whole pipeline are not evaluated; every job\'s own rules are', 'degraded'));
  // Stages that cannot be read are not checked against: every job would be reported for them.
  const stagesRead = raw.stages === undefined ? DEFAULT_STAGES : check(source, z.array(z.string()), raw.stages, ['stages'], 'stages', problems);
  const stages = stagesRead ?? DEFAULT_STAGES;
  const globalVars = check(source, variables, raw.variables ?? {}, ['variables'], 'variables', problems) ?? {};
  // The old top-level forms of `default`'s keys, each checked where it is written.
  const written = Object.keys(globalSchema.shape).filter((k) => raw[k] !== undefined);
  const globals = check(source, globalSchema, Object.fromEntries(written.map((k) => [k, raw[k]])), [], 'the pipeline', problems) ?? {};
  const defaults = { ...globals, ...(raw.default === undefined ? {} : check(source, defaultSchema, raw.default, ['default'], 'default', problems)) };

  // Jobs: every top-level key that is not a keyword and not hidden (`.name`), after `extends`.
  const jobNames = Object.keys(raw).filter((k) => !RESERVED.has(k) && !k.startsWith('.'));
  const templates = new Extends(raw, Object.keys(raw).filter((k) => !RESERVED.has(k)), source, problems);
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
    const merged = templates.resolve(name).merged;
    const job = check(source, jobSchema, merged, [name], `job ${name}`, problems, place);
    if (!job) {
      unread.push({ name, at: [name] });
      continue;
    }
    const by = (key: string) => (owner([key]) === name ? `job ${name}` : owner([key]));
    for (const key of Object.keys(REFUSED)) if (key in job) unsupported.push({ position: source.position([owner([key])], key), message: `"${key}" is not supported by Nestor: ${REFUSED[key]}` });
    for (const [key, [severity, meaning]] of Object.entries(NOTED)) {
      if (key in job) notices.push(source.notice([owner([key])], key, severity === 'info' ? 'NESTOR_KEY_RECORDED' : 'NESTOR_KEY_IGNORED', `job ${name}: ${key} — ${meaning}`, severity));
    }
    // A script of the wrong type, or misspelled, is reported already; "no script" would say it twice.
    const misspelt = Object.keys(merged).some((k) => !(k in jobSchema.shape) && closest(k, Object.keys(jobSchema.shape)) === 'script');
    if (job.script === undefined && merged.script === undefined && !misspelt) problems.push({ position: source.position([], name), message: `job ${name} has no script` });
    if (stagesRead && job.stage !== undefined && !stages.includes(job.stage)) {
      problems.push({ position: source.position([owner(['stage']), 'stage']), message: `${by('stage')} uses stage "${job.stage}", which is not in stages (${stages.join(', ')})${didYouMean(job.stage, stages)}` });
    }
    resolved.set(name, { job, owner });
  }

  const vars = expand({ ...builtinVars(facts), ...plainVars(globalVars) }, source);
  const stageOf = (job: Job) => job.stage ?? 'test';
  const steps: StepConfig[] = [];
  const services = new Map<string, ServiceConfig>();
  // The jobs of the stages before each stage, made once per stage, not once per job. A stage
  // not in `stages` is reported; ranking it first would make cycles of its own.
  const rank = (j: Job) => stages.indexOf(stageOf(j));
  const before = stages.map((_, r) => [...resolved].filter(([, j]) => rank(j.job) >= 0 && rank(j.job) < r).map(([n]) => n));
  for (const [name, { job, owner }] of resolved) {
    const at: PathSegment[] = [name];
    const jobVars = expand({ ...vars, ...plainVars(job.variables ?? {}) }, source);
    const decision = decide(job, jobVars, facts, source, owner, problems);
    const earlier = rank(job) >= 0 ? before[rank(job)]! : [];
    const image = job.image ?? defaults.image;
    for (const s of job.services ?? defaults.services ?? []) {
      const svc = toService(s, jobVars, [...at, 'services']);
      if (!services.has(svc.name)) services.set(svc.name, svc);
    }
    steps.push({
      name,
      ...(image ? { image: typeof image === 'string' ? image : image.name } : {}),
      commands: [...lines(job.before_script ?? defaults.before_script), ...lines(job.script)],
      afterCommands: lines(job.after_script ?? defaults.after_script),
      environment: Object.fromEntries(Object.keys(job.variables ?? {}).map((k) => [k, jobVars[k]!])),
      secrets: [],
      privileged: false,
      volumes: [],
      ...(job.needs ? needsOf(job.needs, [owner(['needs']), 'needs'], jobNames) : { dependsOn: earlier }),
      when: decision.when === 'never' ? [] : [{ status: decision.when }],
      ...(decision.when === 'never' ? { notRunBecause: decision.note ?? 'not run' } : {}),
      ...(job.timeout ?? defaults.timeout ? { timeoutSeconds: seconds(job.timeout ?? defaults.timeout!) } : {}),
      ignoreFailure: decision.allowFailure,
      detach: false,
      at,
    });
  }
  return {
    name: 'gitlab',
    format: 'gitlab',
    file: source.file,
    environment: { ...vars, CI_PROJECT_DIR: GITLAB_WORKSPACE, CI_BUILDS_DIR: '/builds' },
    steps,
    services: [...services.values()],
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

/** `needs`, with where each entry is written; an `optional` need of a job that is not there is dropped, as GitLab does. */
function needsOf(needs: NonNullable<Job['needs']>, at: PathSegment[], jobs: string[]): Pick<StepConfig, 'dependsOn' | 'dependsOnAt'> {
  const kept = needs.flatMap((n, i): [string, PathSegment[]][] =>
    typeof n === 'string' ? [[n, [...at, i]]] : n.optional && !jobs.includes(n.job) ? [] : [[n.job, [...at, i, 'job']]],
  );
  return { dependsOn: kept.map(([n]) => n), dependsOnAt: kept.map(([, p]) => p) };
}

function lines(s: z.infer<typeof script> | undefined): string[] {
  if (s === undefined) return [];
  return typeof s === 'string' ? [s] : s.flatMap((x) => (Array.isArray(x) ? x : [x]));
}

function plainVars(v: z.infer<typeof variables>): Record<string, string> {
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, typeof x === 'object' ? x.value : String(x)]));
}

/**
 * GitLab expands `$VAR` inside variable values, from the variables defined so far. What they
 * expand to counts against the size limit: `B: $A$A$A…`, `C: $B$B$B…` doubles without end.
 */
function expand(vars: Record<string, string>, source: YamlSource): Record<string, string> {
  const out = { ...vars };
  let total = 0;
  for (const k of Object.keys(out)) {
    out[k] = substitute(out[k]!, out);
    total += out[k]!.length;
    if (total > source.limits.bytes) throw new PipelineLimitError('bytes', source.limits.bytes, source.position(['variables'], k), `the variables expand to more than ${source.limits.bytes} characters (at ${k})`, total);
  }
  return out;
}

function builtinVars(facts: RunFacts): Record<string, string> {
  const branch = facts.branch ?? '';
  return {
    CI: 'true',
    CI_COMMIT_BRANCH: branch,
    CI_COMMIT_REF_NAME: branch,
    CI_COMMIT_REF_SLUG: branch.toLowerCase().replace(/[^a-z0-9]+/g, '-').slice(0, 63),
    CI_DEFAULT_BRANCH: 'main',
    CI_PIPELINE_SOURCE: facts.event === 'pull_request' ? 'merge_request_event' : (facts.event ?? 'push'),
  };
}

/** GitLab's default service aliases: `docker:dind` → docker, `org/img:1` → org__img and org-img. */
export function serviceAliases(image: string): string[] {
  const name = image.split('@')[0]!.replace(/:[^/]*$/, '');
  return [...new Set([name.replaceAll('/', '__'), name.replaceAll('/', '-')])];
}

function toService(s: z.infer<typeof serviceSchema>, vars: Record<string, string>, at: PathSegment[]): ServiceConfig {
  const spec = typeof s === 'string' ? { name: s } : s;
  const aliases = serviceAliases(spec.name);
  const primary = spec.alias ?? aliases[0]!;
  return {
    name: primary.replace(/[^a-zA-Z0-9_.-]/g, '-'),
    image: spec.name,
    aliases: aliases.filter((a) => a !== primary),
    environment: { ...vars, ...(typeof s === 'object' && s.variables ? Object.fromEntries(Object.entries(s.variables).map(([k, v]) => [k, String(v)])) : {}) },
    commands: [],
    ...(spec.entrypoint ? { entrypoint: spec.entrypoint } : {}),
    ...(spec.command ? { command: spec.command } : {}),
    ports: [],
    privileged: false,
    volumes: [],
    at,
  };
}

/** What `rules`, `only`/`except` and `when` decide for a job, evaluated now. */
function decide(
  job: Job,
  vars: Record<string, string>,
  facts: RunFacts,
  source: YamlSource,
  owner: (path: PathSegment[]) => string,
  problems: PipelineProblem[],
): { when: 'never' | ('success' | 'failure')[]; allowFailure: boolean; note?: string } {
  let when = job.when ?? 'on_success';
  let allowFailure = job.allow_failure !== undefined && job.allow_failure !== false;
  const limits = source.limits;
  if (job.rules) {
    const rulesAt: PathSegment[] = [owner(['rules']), 'rules'];
    // Every rule is read, and its patterns compiled, before any is evaluated: a pattern RE2
    // cannot run is reported even in a rule that is never reached.
    const rules = job.rules.map((r, i) => {
      const test = r.if === undefined ? undefined : readOrReport(() => parseRule(r.if!, limits), () => source.position([...rulesAt, i, 'if']), `rule "${shown(r.if)}"`, problems);
      const changes = r.changes === undefined ? undefined : Array.isArray(r.changes) ? r.changes : r.changes.paths;
      for (const c of changes ?? []) {
        if (c.length > limits.regexLength) throw new PipelineLimitError('regexLength', limits.regexLength, source.position([...rulesAt, i, 'changes']), `a pattern of ${c.length} characters`, c.length);
      }
      return { test, unreadable: r.if !== undefined && test === undefined, changes };
    });
    const match = rules.findIndex(({ test, unreadable, changes }) => {
      if (unreadable || (test && !test(vars))) return false;
      if (changes && facts.changedPaths && !facts.changedPaths.some((p) => changes.some((c) => globMatches(p, c)))) return false;
      return true;
    });
    if (match < 0) return { when: 'never', allowFailure, note: 'no rule matches: not run' };
    const rule = job.rules[match]!;
    if (rule.when) when = rule.when;
    if (rule.allow_failure !== undefined) allowFailure = rule.allow_failure;
  }
  const branch = facts.branch ?? '';
  const refMatch = (key: 'only' | 'except') => refPatterns(job[key]!, [owner([key]), key], source, problems).some((p) => p.text === 'branches' || p.text === branch || (p.regex?.test(branch) ?? false));
  if (job.only && !refMatch('only')) return { when: 'never', allowFailure, note: `only: branch ${branch} not listed` };
  if (job.except && refMatch('except')) return { when: 'never', allowFailure, note: `except: branch ${branch} listed` };
  switch (when) {
    case 'never':
      return { when: 'never', allowFailure, note: 'when: never' };
    case 'manual':
      return { when: 'never', allowFailure, note: 'manual job: not run (run it with --step)' };
    case 'on_failure':
      return { when: ['failure'], allowFailure };
    case 'always':
      return { when: ['success', 'failure'], allowFailure };
    default:
      return { when: ['success'], allowFailure };
  }
}

/**
 * The refs of `only`/`except`, each with its pattern when it is written `/pattern/flags` (as
 * GitLab tells a pattern from a name: flags among i, m, s, U; anything else is a name).
 */
function refPatterns(r: z.infer<typeof refs>, at: PathSegment[], source: YamlSource, problems: PipelineProblem[]): { text: string; regex?: Regex }[] {
  const [list, base] = Array.isArray(r) ? [r, at] : [r.refs ?? [], [...at, 'refs']];
  return list.map((text, i) => {
    const written = slashPattern(text);
    if (!written || !/^[imsU]*$/.test(written.flags)) return { text };
    const regex = readOrReport(() => compileSlashPattern(written.pattern, written.flags, source.limits), () => source.position([...base, i]), `${at[1]} "${shown(text)}"`, problems);
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

function seconds(text: string): number {
  let total = 0;
  for (const m of text.matchAll(/(\d+)\s*(h|hours?|hrs?|m|mins?|minutes?|s|secs?|seconds?)\b/g)) {
    const unit = m[2]!.charAt(0);
    total += Number(m[1]) * (unit === 'h' ? 3600 : unit === 'm' ? 60 : 1);
  }
  return total || 3600;
}
