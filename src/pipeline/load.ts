import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { NestorError } from '../errors.ts';
import { defaultStepImage } from '../config.ts';
import { compile, type CompileOptions } from './compile.ts';
import { everyProblem } from './errors.ts';
import { readDrone } from './formats/drone.ts';
import { readGitlab } from './formats/gitlab.ts';
import { readNestor } from './formats/nestor.ts';
import { readWoodpecker } from './formats/woodpecker.ts';
import type { PipelineConfig } from './model.ts';
import type { JobPlan } from './plan.ts';
import type { RunFacts } from './when.ts';
import { YamlSource } from './yaml-source.ts';

/** Looked for in this order when `nestor run` is given no file. */
export const CONVENTIONAL_FILES = ['.nestor.yml', '.nestor.yaml', '.woodpecker.yml', '.woodpecker.yaml', '.woodpecker', '.drone.yml', '.gitlab-ci.yml'];

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

/** The format a file is written in, from its name, then from its content. */
export function formatOf(path: string, value: unknown): Format {
  const name = basename(path);
  if (name.startsWith('.gitlab-ci')) return 'gitlab';
  if (name.startsWith('.drone')) return 'drone';
  if (name.startsWith('.woodpecker') || basename(dirname(path)) === '.woodpecker') return 'woodpecker';
  if (value && typeof value === 'object' && (value as { kind?: unknown }).kind === 'pipeline') return 'drone';
  return 'nestor';
}

/**
 * Reads one file into the pipelines it holds (Drone files can hold several). Only a YAML
 * syntax error is thrown here: what is wrong with the content travels in each config's
 * `problems`, and compile reports it together with its own checks.
 */
export function readPipelines(path: string, text: string, facts: RunFacts, displayPath = path): { config: PipelineConfig; source: YamlSource }[] {
  const sources = YamlSource.parseAll(displayPath, text);
  if (sources.length === 0) throw new PipelineFileNotFoundError(`${displayPath} (the file is empty)`);
  const format = formatOf(path, sources[0]!.value);
  return sources.flatMap((source) => {
    switch (format) {
      case 'drone': {
        const config = readDrone(source);
        return config ? [{ config, source }] : [];
      }
      case 'woodpecker':
        return [{ config: readWoodpecker(source, basename(path).replace(/\.ya?ml$/, '').replace(/^\.woodpecker$/, 'woodpecker')), source }];
      case 'gitlab':
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
export function loadPlans(dir: string, file: string | undefined, opts: CompileOptions): JobPlan[] {
  return everyProblem(discover(dir, file), (path) => {
    const rel = relative(process.cwd(), path);
    const display = rel && !rel.startsWith('..') ? rel : path;
    return everyProblem(readPipelines(path, readFileSync(path, 'utf8'), opts, display), ({ config, source }) =>
      compile(config, source, { ...opts, builtins: (job) => ({ ...builtinVariables(config, opts, job), ...opts.builtins?.(job) }) }),
    );
  });
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
      return { ...common, DRONE: 'true', DRONE_BRANCH: branch, DRONE_COMMIT_BRANCH: branch, DRONE_BUILD_EVENT: event, DRONE_WORKSPACE: config.workspace, ...(job.step ? { DRONE_STEP_NAME: job.step } : {}) };
    case 'woodpecker':
      return { ...common, CI_COMMIT_BRANCH: branch, CI_PIPELINE_EVENT: event, CI_WORKSPACE: config.workspace, ...(job.step ? { CI_STEP_NAME: job.step } : {}) };
    case 'gitlab':
      return { ...common, ...(job.step ? { CI_JOB_NAME: job.step } : {}) };
    default:
      return common;
  }
}

/** The job plans of a pipeline given as text (an API submission, a stored job). */
export function compileText(pipeline: { text: string; file: string }, opts: CompileOptions): JobPlan[] {
  return everyProblem(readPipelines(pipeline.file, pipeline.text, opts), ({ config, source }) =>
    compile(config, source, { ...opts, builtins: (job) => ({ ...builtinVariables(config, opts, job), ...opts.builtins?.(job) }) }),
  );
}

/**
 * The plans of a job given as text (an API submission, a stored job), as a runner compiles them:
 * with the default step image, like `nestor run`.
 */
export function jobPlansOf(pipeline: { text: string; file: string }, facts: RunFacts = {}): JobPlan[] {
  return compileText(pipeline, { defaultImage: defaultStepImage(), event: facts.event ?? 'push', ...(facts.branch ? { branch: facts.branch } : {}) });
}
