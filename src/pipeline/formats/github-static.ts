import type { PipelineProblem } from '../errors.ts';
import { ExpressionError, truthy, type ExpressionScope } from '../github/expression.ts';
import { checkTemplate, fillValue } from '../github/templates.ts';
import type { PathSegment, YamlSource } from '../yaml-source.ts';

/**
 * What a workflow's reader asks of its expressions before the run, for the run's workflow and
 * for the workflows its jobs call alike: each is checked where it is written, and an `if:`
 * that reads only what is known now is answered now.
 */

export function checkTemplateAt(source: YamlSource, text: string, at: PathSegment[], key: string, problems: PipelineProblem[]): boolean {
  try {
    checkTemplate(text);
    return true;
  } catch (err) {
    if (!(err instanceof ExpressionError)) throw err;
    problems.push({ position: source.position(at, key), message: err.message });
    return false;
  }
}

export function checkExpression(source: YamlSource, expression: string, at: PathSegment[], key: string, problems: PipelineProblem[]): boolean {
  return checkTemplateAt(source, `\${{ ${expression} }}`, at, key, problems);
}

/** An `if:` that reads only what is known before the run, answered now. */
export function staticIf(expression: string, scope: ExpressionScope): boolean | undefined {
  try {
    return truthy(fillValue(`\${{ ${expression} }}`, scope));
  } catch {
    return undefined;
  }
}

/** After which outcomes of the jobs it waits for a job runs, by its `if:`: always() after any, failure() after a failure. */
export function runsAfter(jobIf: string | undefined): { runsOn?: ('success' | 'failure')[] } {
  if (jobIf !== undefined && /\balways\s*\(/i.test(jobIf)) return { runsOn: ['success', 'failure'] };
  if (jobIf !== undefined && /\bfailure\s*\(/i.test(jobIf)) return { runsOn: ['failure'] };
  return {};
}

export function listOf(value: string | string[] | undefined): string[] {
  return value === undefined ? [] : Array.isArray(value) ? value : [value];
}
