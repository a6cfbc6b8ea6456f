import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { NestorError } from '../errors.ts';
import { DEFAULT_STEP_IMAGE } from '../config.ts';
import { compile, type CompileOptions } from './compile.ts';
import { everyProblem, FILE_NOT_FOUND, PipelineError, UnsupportedFeatureError, withNotices, type PipelineNotice, type PipelineProblem, type SourcePosition } from './errors.ts';
import { didYouMean } from './suggest.ts';
import { droneVariables, woodpeckerVariables } from './forge-variables.ts';
import { preSubstitute, SubstitutionError } from './pre-substitute.ts';
import { withChildPipelines } from './child-pipelines.ts';
import { enforce, pipelineLimits, type PipelineLimits } from './limits.ts';
import { otherDocumentNotices, readDrone } from './formats/drone.ts';
import { explainJsonnet, isJsonnet, isStarlark, jsonnetSources, starlarkRefused } from './formats/drone-jsonnet.ts';
import { readGitlab } from './formats/gitlab.ts';
import { readGithubJobs, type GithubFacts } from './formats/github.ts';
import { githubContext, githubVariables } from './github/contexts.ts';
import { withWorkflowArtifacts } from './github/artifacts.ts';
import { readNestor } from './formats/nestor.ts';
import { readWoodpecker, WOODPECKER_STEP_KEYS } from './formats/woodpecker.ts';
import type { PipelineConfig } from './model.ts';
import type { JobPlan } from './plan.ts';
import type { RunFacts } from './when.ts';
import { YamlSource } from './yaml-source.ts';

/**
 * Looked for in this order when `nestor run` is given no file. `.drone.jsonnet` comes before
 * the `.drone.yml` that is often generated from it; `.drone.star` last, only to say that it
 * is not read when nothing else is there.
 */
export const CONVENTIONAL_FILES = ['.nestor.yml', '.nestor.yaml', '.woodpecker.yml', '.woodpecker.yaml', '.woodpecker', '.drone.jsonnet', '.drone.yml', '.gitlab-ci.yml', '.github/workflows', '.gitea/workflows', '.forgejo/workflows', '.drone.star'];

export class PipelineFileNotFoundError extends NestorError {
  constructor(where: string) {
    super(
      'NESTOR_PIPELINE_NOT_FOUND',
      `No pipeline file in ${where} (looked for ${CONVENTIONAL_FILES.join(', ')})`,
      'Name the file: `nestor run path/to/file.yml`, or create .nestor.yml (docs/pipeline.md).',
    );
  }
}

/** The pipeline files to run: the one given, or the first conventional name found in `dir`. */
export function discover(dir: string, file?: string): string[] {
  if (file) {
    const path = join(dir, file);
    if (!existsSync(path)) throw new PipelineFileNotFoundError(path);
    return statSync(path).isDirectory() ? yamlFilesIn(path) : [path];
  }
  for (const name of CONVENTIONAL_FILES) {
    const path = join(dir, name);
    if (!existsSync(path)) continue;
    return statSync(path).isDirectory() ? yamlFilesIn(path) : [path];
  }
  throw new PipelineFileNotFoundError(dir);
}

function yamlFilesIn(dir: string): string[] {
  const files = readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)).sort().map((f) => join(dir, f));
  if (files.length === 0) throw new PipelineFileNotFoundError(dir);
  return files;
}

export type Format = PipelineConfig['format'];

/** A GitHub (or Gitea, Forgejo) Actions workflow: by its folder, or by its `on:` and `jobs:` keys. */
function isWorkflow(path: string, value: unknown): boolean {
  if (/(^|\/)\.(github|gitea|forgejo)\/workflows\//.test(path.replaceAll('\\', '/'))) return true;
  if (!value || typeof value !== 'object' || Array.isArray(value)) return false;
  const doc = value as Record<string, unknown>;
  return 'jobs' in doc && 'on' in doc && !('steps' in doc);
}

/** The format a file is written in, from its name, then from its content. */
export function formatOf(path: string, value: unknown): Format {
  const name = basename(path);
  if (name.startsWith('.gitlab-ci')) return 'gitlab';
  // Nestor reads Jsonnet only as Drone does (any config path ending in .jsonnet).
  if (name.startsWith('.drone') || isJsonnet(name)) return 'drone';
  if (name.startsWith('.woodpecker') || basename(dirname(path)) === '.woodpecker') return 'woodpecker';
  if (isWorkflow(path, value)) return 'github';
  if (value && typeof value === 'object' && (value as { kind?: unknown }).kind === 'pipeline') return 'drone';
  return 'nestor';
}

/**
 * Reads one file into the pipelines it holds (Drone files can hold several). Only a YAML
 * syntax error, or a limit passed, is thrown here: what is wrong with the content travels in
 * each config's `problems`, and compile reports it together with its own checks.
 */
export function readPipelines(
  path: string,
  text: string,
  facts: RunFacts & { limits?: Partial<PipelineLimits>; trusted?: boolean; platforms?: Record<string, string>; needs?: GithubFacts['needs'] },
  displayPath = path,
  /** The format, when the file's name does not say it (a GitLab child pipeline's file). */
  formatGiven?: Format,
): { config: PipelineConfig; source: YamlSource }[] {
  const limits = pipelineLimits(facts.limits);
  const bytes = Buffer.byteLength(text);
  enforce(limits, 'bytes', bytes, () => ({ file: displayPath, line: 1, column: 1 }), `the pipeline is ${bytes} bytes`);
  if (isStarlark(path)) throw starlarkRefused(displayPath, text);
  let sources = isJsonnet(path) ? jsonnetSources({ path, text, displayPath, facts, limits }) : YamlSource.parseAll(displayPath, text, limits);
  if (sources.length === 0) throw new PipelineFileNotFoundError(`${displayPath} (the file is empty)`);
  const format = formatGiven ?? formatOf(path, sources[0]!.value);
  if ((format === 'drone' || format === 'woodpecker') && !isJsonnet(path) && text.includes('${')) sources = YamlSource.parseAll(displayPath, expandedText(format, text, facts, displayPath, matrixAxes(sources[0]!.value)), limits);
  const repeated = sources.flatMap((s) => s.repeated);
  if (repeated.length && !KEEPS_LAST_KEY.has(format)) {
    throw new PipelineError(
      repeated.map((r) => ({ position: r.again, message: `YAML syntax: Map keys must be unique: "${r.key}" is written at line ${r.first.line} and again here` })),
      'Keep one of the two keys (indentation and quoting are the usual causes).',
    );
  }
  // Counted before reading, so that 20,000 steps are refused before they are read.
  const written = sources.reduce((n, s) => n + itemsWritten(format, s.value), 0);
  enforce(limits, 'steps', written, () => sources[0]!.position([]), `the file has ${written} steps, services or jobs`);
  const read = readAll(path, format, sources, facts).map(({ config, source }) =>
    source.repeated.length ? { config: { ...config, notices: [...source.repeatedNotices(format === 'gitlab' ? 'GitLab' : 'Drone'), ...(config.notices ?? [])] }, source } : { config, source },
  );
  const made = read.reduce((n, { config }) => n + (config.steps.length + config.services.length) * config.matrix.length, 0);
  enforce(limits, 'steps', made, () => sources[0]!.position([]), `the file makes ${made} steps and services over all its jobs`);
  return read;
}

/**
 * A Drone or Woodpecker file as its own system reads it: `${NAME}` expanded from the run's
 * variables (and the build parameters given with -e) before the YAML is read.
 */
function expandedText(format: 'drone' | 'woodpecker', text: string, facts: RunFacts & { env?: Record<string, string> }, displayPath: string, axes: Set<string>): string {
  const run = { pipeline: '', workspace: format === 'drone' ? '/drone/src' : '/woodpecker/src' };
  const vars = { CI: 'true', ...(format === 'drone' ? droneVariables(facts, run) : woodpeckerVariables(facts, run)), ...facts.env };
  try {
    return preSubstitute(text, vars, axes);
  } catch (err) {
    if (!(err instanceof SubstitutionError)) throw err;
    throw new PipelineError([{ position: { file: displayPath, line: err.line, column: err.column }, message: err.message }], `${format === 'drone' ? 'Drone' : 'Woodpecker'} expands \${...} before reading the file: write $\${...} for what the shell should expand.`);
  }
}

/** The names of a Woodpecker matrix's axes (and of its `include` entries' keys). */
function matrixAxes(value: unknown): Set<string> {
  const matrix = (value as { matrix?: unknown } | null)?.matrix;
  if (!matrix || typeof matrix !== 'object' || Array.isArray(matrix)) return new Set();
  const { include, ...axes } = matrix as Record<string, unknown>;
  const included = Array.isArray(include) ? include.flatMap((e) => (e && typeof e === 'object' ? Object.keys(e) : [])) : [];
  return new Set([...Object.keys(axes), ...included]);
}

function isHeader(value: unknown): boolean {
  return typeof value === 'object' && value !== null && Object.keys(value).length === 1 && 'spec' in value;
}

/** The formats whose own readers keep the last of a key written twice in one map (GitLab's and Drone's). */
const KEEPS_LAST_KEY = new Set<Format>(['gitlab', 'drone']);

/** How many steps, services (or GitLab jobs and templates) a document writes, before reading it. */
function itemsWritten(format: Format, value: unknown): number {
  if (typeof value !== 'object' || value === null) return 0;
  const size = (v: unknown) => (Array.isArray(v) ? v.length : typeof v === 'object' && v !== null ? Object.keys(v).length : 0);
  if (format === 'gitlab') return size(value);
  const doc = value as Record<string, unknown>;
  if (format === 'github') return size(doc.jobs) + Object.values(isObject(doc.jobs) ? doc.jobs : {}).reduce<number>((n, j) => n + size(isObject(j) ? j.steps : undefined) + size(isObject(j) ? j.services : undefined), 0);
  return size(doc.steps) + size(doc.pipeline) + size(doc.services);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function readAll(path: string, format: Format, sources: YamlSource[], facts: GithubFacts): { config: PipelineConfig; source: YamlSource }[] {
  const read = readEach(path, format, sources, facts);
  // Drone's secret and signature documents are said with the file's first pipeline.
  const others = format === 'drone' ? sources.flatMap(otherDocumentNotices) : [];
  if (others.length && read[0]) read[0] = { ...read[0], config: { ...read[0].config, notices: [...others, ...(read[0].config.notices ?? [])] } };
  return read;
}

/**
 * A Drone 0.8 file (`pipeline:` a map of steps, no `kind:`), which Drone 1.0 and later refuse:
 * Woodpecker continues that format, so it is read as Woodpecker reads it, and said so.
 */
function droneLegacy(source: YamlSource, name: string): PipelineConfig | undefined {
  const raw = source.value as Record<string, unknown> | null;
  if (!raw || typeof raw !== 'object' || Array.isArray(raw) || raw.kind !== undefined || raw.pipeline === undefined) return undefined;
  const changed: string[] = [];
  const config = readWoodpecker(YamlSource.layered(source, withLegacySettings(raw, changed), [source]), name);
  const lost = changed.map((step) => source.notice(['pipeline', step, 'when'], 'status', 'NESTOR_STATUS_CHANGED_UNKNOWN', `step ${step}: status changed (the build's status differs from the one before it) is not known to a run here: the step runs on the other statuses it names, or on any when it names none`, 'degraded'));
  const said = source.notice([], 'pipeline', 'NESTOR_DRONE_LEGACY', 'a Drone 0.8 file (pipeline: a map of steps, no kind:), which Drone 1.0 and later refuse (drone convert rewrites it): read as Woodpecker reads it, which continues that format, with Woodpecker\'s workspace and CI_* variables; a plugin step\'s own keys are its settings', 'info');
  return { ...config, notices: [said, ...lost, ...(config.notices ?? [])] };
}

/** Drone 0.8's plugin steps (no commands) gave their parameters beside image:; Woodpecker reads them under settings:. */
function withLegacySettings(raw: Record<string, unknown>, changed: string[]): Record<string, unknown> {
  const pipeline = raw.pipeline;
  if (!pipeline || typeof pipeline !== 'object' || Array.isArray(pipeline)) return raw;
  const known = WOODPECKER_STEP_KEYS();
  const steps = Object.fromEntries(Object.entries(pipeline as Record<string, unknown>).map(([name, written]) => {
    const step = withoutStatusChanged(name, written, changed);
    if (!step || typeof step !== 'object' || Array.isArray(step) || 'commands' in step) return [name, step];
    const own = Object.entries(step as Record<string, unknown>);
    const settings = Object.fromEntries(own.filter(([k]) => !known.has(k)));
    if (!Object.keys(settings).length) return [name, step];
    const rest = Object.fromEntries(own.filter(([k]) => known.has(k)));
    return [name, { ...rest, settings: { ...(rest.settings as Record<string, unknown> | undefined), ...settings } }];
  }));
  return { ...raw, pipeline: steps };
}

/** Drone 0.8's `when: {status: [changed, …]}`, which no later format has: the other statuses stay. */
function withoutStatusChanged(name: string, step: unknown, changed: string[]): unknown {
  const when = (step as { when?: { status?: unknown } } | null)?.when;
  const status = when && typeof when === 'object' && !Array.isArray(when) ? when.status : undefined;
  const list = typeof status === 'string' ? [status] : Array.isArray(status) ? status : undefined;
  if (!list?.includes('changed')) return step;
  changed.push(name);
  const rest = list.filter((s) => s !== 'changed');
  const { status: _status, ...otherWhen } = when as Record<string, unknown>;
  return { ...(step as Record<string, unknown>), when: rest.length ? { ...otherWhen, status: rest } : { ...otherWhen, status: ['success', 'failure'] } };
}

function readEach(path: string, format: Format, sources: YamlSource[], facts: GithubFacts): { config: PipelineConfig; source: YamlSource }[] {
  return sources.flatMap((source) => {
    switch (format) {
      case 'drone': {
        const config = readDrone(source);
        if (config) return [{ config: explainJsonnet(config, source), source }];
        const legacy = droneLegacy(source, workflowName(path));
        return legacy ? [{ config: legacy, source }] : [];
      }
      case 'woodpecker':
        return [{ config: readWoodpecker(source, workflowName(path)), source }];
      case 'github':
        // A called workflow's jobs are compiled against their own file, where they are written.
        return readGithubJobs(source, facts);
      case 'gitlab':
        // A component's header document (`spec: inputs`, then `---`) is not a pipeline.
        if (sources.length > 1 && source === sources[0] && isHeader(source.value)) return [];
        return [{ config: readGitlab(source, facts), source }];
      default:
        return [{ config: readNestor(source), source }];
    }
  });
}

/**
 * Files → job plans, ready for the executor; every problem is thrown with file:line:column,
 * those of every file and every pipeline in one error.
 */
export function loadPlans(dir: string, file: string | undefined, opts: CompileOptions, shownFrom = process.cwd()): JobPlan[] {
  const facts = { ...opts, includes: { repoDir: dir, ...opts.includes } };
  const paths = discover(dir, file);
  const compileFile = (path: string, format?: Format) => {
    // Paths are shown from where the user is (`nestor run`), or from the repository's root.
    const rel = relative(shownFrom, path);
    const display = rel && !rel.startsWith('..') ? rel : path;
    const read = readPipelines(path, readFileSync(path, 'utf8'), facts, display, format);
    const plans = everyProblem(read, ({ config, source }) => compile(config, source, { ...opts, builtins: (job) => ({ ...builtinVariables(config, opts, job), ...opts.builtins?.(job) }) }));
    return read[0]?.config.format === 'gitlab' ? withChildPipelines(plans, (child) => childPlans(dir, child, compileFile)) : plans;
  };
  return withWorkflowArtifacts(checkNeeds(everyProblem(paths, (path) => compileFile(path)), siblingWorkflows(paths)));
}

/** A GitLab child pipeline's plans, from its file in the repository; none when it is not there. */
function childPlans(dir: string, file: string, compileFile: (path: string, format: Format) => JobPlan[]): JobPlan[] | undefined {
  const path = resolve(dir, file);
  // The file is the repository's: a path out of it is never read (the reader has said so).
  if (relative(dir, path).startsWith('..') || !existsSync(path) || !statSync(path).isFile()) return undefined;
  return compileFile(path, 'gitlab');
}

/**
 * The workflows beside a Woodpecker file that is read on its own (`nestor lint
 * .woodpecker/deploy.yml`): the names its depends_on may give, though they are not run here.
 */
function siblingWorkflows(paths: string[]): string[] {
  const dirs = [...new Set(paths.filter((p) => basename(dirname(p)) === '.woodpecker').map(dirname))];
  return dirs.flatMap((d) => yamlFilesIn(d).map(workflowName));
}

/** A Woodpecker workflow's name, as Woodpecker gives it: its file's, without extension or leading dot. */
function workflowName(path: string): string {
  return basename(path).replace(/\.ya?ml$/, '').replace(/^\./, '');
}

/**
 * Each pipeline a pipeline waits for must be one of the run's (Drone pipelines of one file,
 * Woodpecker workflows of one folder): an unknown name is a problem at its place, with the
 * likely one.
 */
export function checkNeeds(plans: JobPlan[], alsoKnown: readonly string[] = []): JobPlan[] {
  const names = [...new Set([...plans.map((p) => p.pipeline), ...alsoKnown])];
  const problems: PipelineProblem[] = [];
  const seen = new Set<string>();
  for (const plan of plans) {
    if (seen.has(plan.pipeline)) continue;
    seen.add(plan.pipeline);
    (plan.needs ?? []).forEach((need, i) => {
      if (need === plan.pipeline) problems.push({ position: plan.needsAt![i]!, message: `pipeline ${plan.pipeline} depends on itself` });
      else if (!names.includes(need)) problems.push(unknownNeed(plan.pipeline, need, plan.needsAt![i]!, names));
    });
  }
  if (problems.length) throw withNotices(new PipelineError(problems), plans.flatMap((p) => p.notices));
  return plans;
}

/**
 * A Woodpecker workflow names the others by their files (`.woodpecker/NAME.yml`): one that is
 * not there is a missing file of the repository, which Woodpecker answers by leaving the
 * workflow out. Nestor says so instead of running it without what it waits for. A Drone
 * pipeline's dependency is in the same file, so an unknown one is a slip of the pen.
 */
function unknownNeed(pipeline: string, need: string, at: SourcePosition, names: string[]): PipelineProblem {
  if (formatOf(at.file, undefined) === 'woodpecker') {
    return {
      position: at,
      code: FILE_NOT_FOUND,
      message: `workflow ${pipeline} depends on ${need}, but the repository has no .woodpecker/${need}.yml${didYouMean(need, names)}: add that workflow, or take ${need} out of depends_on (Woodpecker would leave ${pipeline} out)`,
    };
  }
  return { position: at, message: `pipeline ${pipeline} depends on ${need}, which is not a pipeline of this run${didYouMean(need, names)}` };
}

/** The variables every CI system sets, under Nestor's names and the file's own system's. */
export function builtinVariables(config: PipelineConfig, facts: RunFacts, job: { name: string; step?: string }): Record<string, string> {
  const branch = facts.branch ?? '';
  const event = facts.event ?? 'push';
  const common: Record<string, string> = {
    CI: 'true',
    NESTOR: 'true',
    NESTOR_JOB: job.name,
    NESTOR_BRANCH: branch,
    NESTOR_EVENT: event,
    NESTOR_WORKSPACE: config.workspace,
    ...(job.step ? { NESTOR_STEP: job.step } : {}),
  };
  switch (config.format) {
    case 'drone':
      return { ...common, ...droneVariables(facts, { pipeline: config.name, workspace: config.workspace, ...(job.step ? { step: job.step } : {}) }) };
    case 'woodpecker':
      return { ...common, ...woodpeckerVariables(facts, { pipeline: config.name, workspace: config.workspace, ...(job.step ? { step: job.step } : {}) }) };
    case 'gitlab':
      return { ...common, ...(job.step ? { CI_JOB_NAME: job.step } : {}) };
    case 'github':
      return { ...common, ...githubVariables(githubContext(facts, { workflow: config.github?.workflow ?? config.name, job: config.github?.jobId ?? config.name })) };
    default:
      return common;
  }
}

/** The job plans of a pipeline given as text (an API submission, a stored job). */
export function compileText(pipeline: { text: string; file: string }, opts: CompileOptions): JobPlan[] {
  return withWorkflowArtifacts(checkNeeds(everyProblem(readPipelines(pipeline.file, pipeline.text, opts), ({ config, source }) =>
    compile(config, source, { ...opts, builtins: (job) => ({ ...builtinVariables(config, opts, job), ...opts.builtins?.(job) }) }),
  )));
}

/**
 * The plans of a job given as text (an API submission, a stored job), as a runner compiles them:
 * with the runner's default step image (NESTOR_DEFAULT_IMAGE, given by the CLI), like `nestor
 * run`; the server's check of a submission takes the built-in default, which changes no answer.
 */
export function jobPlansOf(pipeline: { text: string; file: string }, facts: RunFacts & Partial<Pick<CompileOptions, 'limits' | 'defaultImage'>> = {}): JobPlan[] {
  return compileText(pipeline, {
    defaultImage: facts.defaultImage ?? DEFAULT_STEP_IMAGE,
    event: facts.event ?? 'push',
    ...(facts.branch ? { branch: facts.branch } : {}),
    ...(facts.limits ? { limits: facts.limits } : {}),
  });
}
