import { posix } from 'node:path';
import type { PipelineNotice } from './errors.ts';
import { parseExpireIn } from './expire-in.ts';
import type { PipelineConfig, StepConfig } from './model.ts';
import type { ArtifactRule, JobPlan, PlanStep } from './plan.ts';
import { substitute } from './substitute.ts';
import type { YamlSource } from './yaml-source.ts';

/**
 * A file whose steps are jobs (`PipelineConfig.jobPerStep`, GitLab's jobs) as one plan per job:
 * each with its own engine, its own services and a fresh workspace, waiting for the jobs its
 * step depended on, keeping artifacts for the jobs after it and given those of the jobs it
 * takes them from. Compile first makes the one plan of all steps (checking the graph, names,
 * conditions and mounts once), then this splits it.
 */
export function jobsOfSteps(plan: JobPlan, config: PipelineConfig, source: YamlSource): JobPlan[] {
  const read = new Map(config.steps.map((s) => [s.name, s]));
  const names = plan.steps.map((s) => s.name);
  const notices: PipelineNotice[] = [];
  const jobs = plan.steps.map((step): JobPlan => {
    const own = read.get(step.name)!;
    const services = plan.services.filter((s) => !own.services || own.services.includes(s.name));
    const artifacts = artifactRule(own, step, plan.workspace, source, notices);
    // GitLab's tags pick the runners that may take the job, as a runner's labels.
    const labels = [...new Set([...(plan.runnerLabels ?? []), ...(step.recorded?.tags ?? [])])];
    return {
      ...plan,
      name: step.name,
      steps: [{ ...step, dependsOn: [], runOn: ['success'] }],
      services,
      images: [...new Set([...services.map((s) => s.image), ...(step.notRunBecause ? [] : [step.image])])],
      ...(step.dependsOn.length ? { after: step.dependsOn.map((job) => ({ job })) } : {}),
      runWhen: runWhenOf(step.runOn),
      ...(artifacts ? { artifacts } : {}),
      ...(labels.length ? { runnerLabels: labels } : {}),
      notices: [],
    };
  });
  const byName = new Map(jobs.map((j) => [j.name, j]));
  for (const job of jobs) {
    const from = artifactSources(read.get(job.name)!, job, names, source, notices, (n) => Boolean(byName.get(n)?.artifacts)).filter((n) => byName.get(n)?.artifacts);
    if (from.length) job.artifactsFrom = from;
  }
  // Each job's log shows what was said of it; what concerns the whole file, the first job's.
  const all = [...plan.notices, ...notices];
  for (const n of all) {
    const named = /^job (.+?):/.exec(n.message)?.[1];
    const job = (named !== undefined ? jobs.find((j) => j.name === named || j.name.startsWith(`${named} `) || j.name.startsWith(`${named}: `)) : undefined) ?? jobs[0];
    job?.notices.push(n);
  }
  return jobs;
}

function runWhenOf(runOn: PlanStep['runOn']): NonNullable<JobPlan['runWhen']> {
  if (runOn.includes('failure')) return runOn.includes('success') ? 'always' : 'on_failure';
  return 'on_success';
}

/** Whether `name` is `job` or one of its `parallel` instances (`job 1/3`, `job: [a, b]`). */
function isInstanceOf(name: string, job: string): boolean {
  return name === job || (name.startsWith(`${job} `) && /^\d+\/\d+$/.test(name.slice(job.length + 1))) || name.startsWith(`${job}: [`);
}

/**
 * Whose artifacts a job gets, as GitLab decides: the jobs `dependencies` names; else those of
 * its `needs` that do not say `artifacts: false`; else every job of the stages before its own.
 */
function artifactSources(own: StepConfig, job: JobPlan, names: string[], source: YamlSource, notices: PipelineNotice[], keeps: (job: string) => boolean): string[] {
  const deps = own.recorded?.dependencies;
  if (deps) {
    const before = new Set(job.after?.map((a) => a.job) ?? []);
    return deps.flatMap((d) => {
      const found = names.filter((n) => isInstanceOf(n, d));
      if (!found.length) notices.push(source.notice([...own.at, 'dependencies'], undefined, 'NESTOR_ARTIFACTS_UNKNOWN_JOB', `job ${own.name}: dependencies names ${d}, which is not a job of this pipeline: no artifacts come from it`, 'degraded'));
      const late = found.filter((n) => !before.has(n));
      // One that keeps no artifacts gives none on GitLab either: nothing is lost, and it is said as such.
      if (late.length) notices.push(source.notice([...own.at, 'dependencies'], undefined, 'NESTOR_ARTIFACTS_UNKNOWN_JOB', `job ${own.name}: dependencies names ${d}, which does not run before it (an earlier stage or a need): no artifacts come from it${late.some(keeps) ? '' : ' (it keeps none anyway)'}`, late.some(keeps) ? 'degraded' : 'info'));
      return found.filter((n) => before.has(n));
    });
  }
  if (own.recorded?.needs) return own.recorded.needs.filter((n) => n.artifacts).map((n) => n.job);
  return job.after?.map((a) => a.job) ?? [];
}

const WHEN = new Set(['on_success', 'on_failure', 'always']);

/** The job's `artifacts`, read: paths with its variables expanded, relative to the workspace. */
function artifactRule(own: StepConfig, step: PlanStep, workspace: string, source: YamlSource, notices: PipelineNotice[]): ArtifactRule | undefined {
  const raw = own.recorded?.artifacts;
  if (raw === undefined || raw === null || typeof raw !== 'object') return undefined;
  const a = raw as Record<string, unknown>;
  const at = [...own.at, 'artifacts'];
  const say = (key: string, message: string) => notices.push(source.notice(at, key, 'NESTOR_ARTIFACTS_UNREAD', `job ${own.name}: artifacts ${key} ${message}`, 'degraded'));
  const strings = (key: string): string[] => {
    const v = a[key];
    if (v === undefined || v === null) return [];
    const list = Array.isArray(v) ? v : [v];
    if (!list.every((x) => typeof x === 'string')) say(key, 'must be a list of paths; the entries that are not are left out');
    return list.filter((x): x is string => typeof x === 'string').flatMap((p) => relativePath(substitute(p, step.environment), workspace, (why) => say(key, `"${p}" ${why}`), (text) => notices.push(source.notice(at, key, 'NESTOR_ARTIFACTS_PROJECT_DIR', `job ${own.name}: artifacts ${key} ${text}`, 'info'))));
  };
  const paths = strings('paths');
  const untracked = a.untracked === true;
  if (!paths.length && !untracked) return undefined;
  const when = typeof a.when === 'string' && WHEN.has(a.when) ? (a.when as ArtifactRule['when']) : 'on_success';
  if (a.when !== undefined && when !== a.when) say('when', `"${String(a.when)}" is not on_success, on_failure or always: on_success is used`);
  const expire = a.expire_in === undefined ? 30 * 86_400_000 : typeof a.expire_in === 'string' || typeof a.expire_in === 'number' ? parseExpireIn(a.expire_in) : undefined;
  if (expire === undefined) say('expire_in', `"${String(a.expire_in)}" cannot be read ("3 days", "1 week", "never"): they are kept 30 days`);
  return { paths, exclude: strings('exclude'), when, expireInMs: expire === undefined ? 30 * 86_400_000 : expire, ...(untracked ? { untracked: true } : {}) };
}

/** A path of the file (relative, or absolute under the workspace as `$CI_PROJECT_DIR/x`) relative to the workspace. */
function relativePath(path: string, workspace: string, refuse: (why: string) => void, note?: (text: string) => void): string[] {
  const abs = posix.isAbsolute(path) ? posix.normalize(path) : posix.join(workspace, path);
  const rel = posix.relative(workspace, abs);
  // GitLab's own project directory written out (`/builds/GROUP/PROJECT/x`, gitlab.com's CI_PROJECT_DIR): x of this one.
  const gitlab = /^\/builds\/[^/]+\/[^/]+\/(.+)$/.exec(abs);
  if ((rel === '..' || rel.startsWith('../')) && gitlab && workspace.startsWith('/builds/')) {
    note?.(`"${path}" is GitLab's project directory written out (/builds/GROUP/PROJECT); it is read as ${gitlab[1]} of this job's (${workspace}); write $CI_PROJECT_DIR/${gitlab[1]} for both`);
    return [gitlab[1]!];
  }
  if (rel === '..' || rel.startsWith('../') || posix.isAbsolute(rel)) {
    refuse('is outside the workspace: artifacts are kept from the workspace only');
    return [];
  }
  return [rel === '' ? '.' : rel];
}
