import { NestorError } from '../errors.ts';

/** Where in a pipeline file something is: 1-based, as editors show it. */
export interface SourcePosition {
  file: string;
  line: number;
  column: number;
}

export function formatPosition(p: SourcePosition): string {
  return `${p.file}:${p.line}:${p.column}`;
}

/** One problem in a pipeline file, pointing at the place to fix. */
export interface PipelineProblem {
  position: SourcePosition;
  message: string;
}

/** A pipeline file that cannot run: every problem found, each with file:line:column. */
export class PipelineError extends NestorError {
  readonly problems: PipelineProblem[];
  constructor(problems: PipelineProblem[], hint = 'Fix the file at the places named; docs/pipeline.md describes every key.') {
    super('NESTOR_PIPELINE_INVALID', problems.map((p) => `${formatPosition(p.position)}: ${p.message}`).join('\n'), hint);
    this.problems = problems;
  }

  override toJSON(): Record<string, unknown> {
    return { ...super.toJSON(), problems: this.problems };
  }
}

/** A pipeline that is valid but uses something Nestor does not run; named, never ignored. */
export class UnsupportedFeatureError extends PipelineError {
  constructor(problems: PipelineProblem[]) {
    super(problems, 'Remove or rewrite these parts; docs/pipeline.md lists what each imported format supports.');
    (this as { code: string }).code = 'NESTOR_PIPELINE_UNSUPPORTED';
  }
}
