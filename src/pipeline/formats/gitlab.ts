import picomatch from 'picomatch';
import { z } from 'zod';
import { PipelineError, UnsupportedFeatureError, type PipelineProblem } from '../errors.ts';
import type { PipelineConfig, ServiceConfig, StepConfig } from '../model.ts';
import { check } from '../validate.ts';
import type { RunFacts } from '../when.ts';
import type { PathSegment, YamlSource } from '../yaml-source.ts';
import { scalar, stringList, listOf } from '../common.ts';
import { evaluateRule, RuleSyntaxError } from './gitlab-rules.ts';
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
const NOTED: Record<string, string> = {
  artifacts: 'all jobs share one workspace, so artifacts reach later jobs without an upload',
  cache: 'nothing is cached between runs; the image cache is shared',
  tags: 'the job runs where `nestor run` or the runner runs it',
  environment: 'deployment environments are not tracked',
  retry: 'failed jobs are not retried',
  dependencies: 'all jobs share one workspace',
  interruptible: 'every job can be cancelled',
  coverage: 'coverage is not parsed',
  resource_group: 'jobs of one pipeline never run twice at once',
  id_tokens: 'not issued',
  release: 'releases are not created',
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

type Job = z.infer<typeof jobSchema>;

export function readGitlab(source: YamlSource, facts: RunFacts): PipelineConfig {
  const problems: PipelineProblem[] = [];
  const unsupported: PipelineProblem[] = [];
  const notices: string[] = [];
  const raw = (source.value ?? {}) as Record<string, unknown>;
  if ('include' in raw) unsupported.push({ position: source.position([], 'include'), message: '"include" is not supported: inline the included jobs' });
  if ('workflow' in raw) notices.push('workflow: rules for the whole pipeline are not evaluated; every job\'s own rules are');
  const stages = check(source, z.array(z.string()), raw.stages ?? DEFAULT_STAGES, ['stages'], 'stages', problems) ?? DEFAULT_STAGES;
  const globalVars = check(source, variables, raw.variables ?? {}, ['variables'], 'variables', problems) ?? {};
  const defaults = check(source, defaultSchema, {
    ...(raw.image !== undefined ? { image: raw.image } : {}),
    ...(raw.services !== undefined ? { services: raw.services } : {}),
    ...(raw.before_script !== undefined ? { before_script: raw.before_script } : {}),
    ...(raw.after_script !== undefined ? { after_script: raw.after_script } : {}),
    ...(raw.default as object | undefined),
  }, ['default'], 'default', problems) ?? {};

  // Jobs: every top-level key that is not a keyword and not hidden (`.name`), after `extends`.
  const jobNames = Object.keys(raw).filter((k) => !RESERVED.has(k) && !k.startsWith('.'));
  const resolved = new Map<string, Job>();
  for (const name of jobNames) {
    const merged = resolveExtends(raw, name, [], source, problems);
    const job = check(source, jobSchema, merged, [name], `job ${name}`, problems);
    if (!job) continue;
    for (const key of Object.keys(REFUSED)) if (key in job) unsupported.push({ position: source.position([name], key), message: `"${key}" is not supported by Nestor: ${REFUSED[key]}` });
    for (const key of Object.keys(NOTED)) if (key in job) notices.push(`job ${name}: ${key} — ${NOTED[key]}`);
    if (job.script === undefined) problems.push({ position: source.position([name]), message: `job ${name} has no script` });
    if (job.stage !== undefined && !stages.includes(job.stage)) problems.push({ position: source.position([name], 'stage'), message: `job ${name} uses stage "${job.stage}", which is not in stages (${stages.join(', ')})` });
    resolved.set(name, job);
  }
  if (problems.length) throw new PipelineError(problems);
  if (unsupported.length) throw new UnsupportedFeatureError(unsupported);

  const vars = expand({ ...builtinVars(facts), ...plainVars(globalVars) });
  const stageOf = (job: Job) => job.stage ?? 'test';
  const steps: StepConfig[] = [];
  const services = new Map<string, ServiceConfig>();
  for (const [name, job] of resolved) {
    const at: PathSegment[] = [name];
    const jobVars = expand({ ...vars, ...plainVars(job.variables ?? {}) });
    const decision = decide(job, jobVars, facts, source, at, problems);
    const earlier = [...resolved].filter(([, j]) => stages.indexOf(stageOf(j)) < stages.indexOf(stageOf(job))).map(([n]) => n);
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
      dependsOn: job.needs ? job.needs.map((n) => (typeof n === 'string' ? n : n.job)) : earlier,
      when: decision.when === 'never' ? [] : [{ status: decision.when }],
      ...(decision.when === 'never' ? { notRunBecause: decision.note ?? 'not run' } : {}),
      ...(job.timeout ?? defaults.timeout ? { timeoutSeconds: seconds(job.timeout ?? defaults.timeout!) } : {}),
      ignoreFailure: decision.allowFailure,
      detach: false,
      at,
    });
  }
  if (problems.length) throw new PipelineError(problems);
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
  };
}

function resolveExtends(raw: Record<string, unknown>, name: string, seen: string[], source: YamlSource, problems: PipelineProblem[]): Record<string, unknown> {
  const own = (raw[name] ?? {}) as Record<string, unknown>;
  if (typeof own !== 'object' || own === null) return {};
  const parents = listOf(own.extends as string | string[] | undefined);
  let merged: Record<string, unknown> = {};
  for (const p of parents) {
    if (seen.includes(p) || !(p in raw)) {
      problems.push({ position: source.position([name], 'extends'), message: seen.includes(p) ? `extends makes a cycle through ${p}` : `job ${name} extends unknown job "${p}"` });
      continue;
    }
    merged = deepMerge(merged, resolveExtends(raw, p, [...seen, name], source, problems));
  }
  const { extends: _, ...rest } = own;
  return deepMerge(merged, rest);
}

function deepMerge(a: Record<string, unknown>, b: Record<string, unknown>): Record<string, unknown> {
  const out = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const prev = out[k];
    out[k] = isPlain(prev) && isPlain(v) ? deepMerge(prev, v) : v;
  }
  return out;
}

function isPlain(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function lines(s: z.infer<typeof script> | undefined): string[] {
  if (s === undefined) return [];
  return typeof s === 'string' ? [s] : s.flatMap((x) => (Array.isArray(x) ? x : [x]));
}

function plainVars(v: z.infer<typeof variables>): Record<string, string> {
  return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, typeof x === 'object' ? x.value : String(x)]));
}

/** GitLab expands `$VAR` inside variable values, from the variables defined so far. */
function expand(vars: Record<string, string>): Record<string, string> {
  const out = { ...vars };
  for (const k of Object.keys(out)) out[k] = substitute(out[k]!, out);
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
  at: PathSegment[],
  problems: PipelineProblem[],
): { when: 'never' | ('success' | 'failure')[]; allowFailure: boolean; note?: string } {
  let when = job.when ?? 'on_success';
  let allowFailure = job.allow_failure !== undefined && job.allow_failure !== false;
  if (job.rules) {
    const match = job.rules.findIndex((r, i) => {
      try {
        if (r.if !== undefined && !evaluateRule(r.if, vars)) return false;
      } catch (err) {
        if (err instanceof RuleSyntaxError) problems.push({ position: source.position([...at, 'rules', i], 'if'), message: `rule "${r.if}": ${err.message}` });
        return false;
      }
      const changes = r.changes === undefined ? undefined : Array.isArray(r.changes) ? r.changes : r.changes.paths;
      if (changes && facts.changedPaths && !facts.changedPaths.some((p) => changes.some((c) => picomatch.isMatch(p, c, { dot: true })))) return false;
      return true;
    });
    if (match < 0) return { when: 'never', allowFailure, note: 'no rule matches: not run' };
    const rule = job.rules[match]!;
    if (rule.when) when = rule.when;
    if (rule.allow_failure !== undefined) allowFailure = rule.allow_failure;
  }
  const branch = facts.branch ?? '';
  const refMatch = (r: z.infer<typeof refs>) => (Array.isArray(r) ? r : (r.refs ?? [])).some((p) => p === 'branches' || p === branch || (p.startsWith('/') && new RegExp(p.slice(1, p.lastIndexOf('/'))).test(branch)));
  if (job.only && !refMatch(job.only)) return { when: 'never', allowFailure, note: `only: branch ${branch} not listed` };
  if (job.except && refMatch(job.except)) return { when: 'never', allowFailure, note: `except: branch ${branch} listed` };
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

function seconds(text: string): number {
  let total = 0;
  for (const m of text.matchAll(/(\d+)\s*(h|hours?|hrs?|m|mins?|minutes?|s|secs?|seconds?)\b/g)) {
    const unit = m[2]!.charAt(0);
    total += Number(m[1]) * (unit === 'h' ? 3600 : unit === 'm' ? 60 : 1);
  }
  return total || 3600;
}
