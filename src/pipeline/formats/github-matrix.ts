import { isDeepStrictEqual } from 'node:util';
import type { Value } from '../github/expression.ts';

/**
 * A job's `strategy.matrix` expanded as GitHub does: the product of its axes in the order
 * written, less each `exclude` entry (an entry removes every combination it matches on all its
 * keys), then each `include` entry added to every combination whose original values it does
 * not change (values it adds may be changed by a later entry), or made a combination of its
 * own when it fits none. GitHub refuses more than 256 jobs from one matrix; so does Nestor.
 */

export const MAX_MATRIX_JOBS = 256;

export type Combination = Record<string, Value>;

export class MatrixError extends Error {
  readonly path: (string | number)[];
  constructor(message: string, path: (string | number)[] = []) {
    super(message);
    this.path = path;
  }
}

export function expandMatrix(matrix: Record<string, unknown>): Combination[] {
  const { include, exclude, ...axes } = matrix;
  for (const [key, values] of Object.entries(axes)) {
    if (!Array.isArray(values)) throw new MatrixError(`matrix axis ${key} must be a list of values (or an expression giving one)`, [key]);
    if (values.length === 0) throw new MatrixError(`matrix axis ${key} is empty, which leaves no job to run`, [key]);
  }
  let combos: Combination[] = Object.keys(axes).length ? [{}] : [];
  for (const [key, values] of Object.entries(axes) as [string, Value[]][]) {
    combos = combos.flatMap((c) => values.map((v) => ({ ...c, [key]: v })));
    if (combos.length > MAX_MATRIX_JOBS * 4) throw new MatrixError(`the matrix makes more than ${MAX_MATRIX_JOBS} jobs, GitHub's limit`);
  }
  for (const entry of listOf(exclude, 'exclude')) {
    combos = combos.filter((c) => !Object.entries(entry).every(([k, v]) => k in c && matches(c[k]!, v)));
  }
  const original = new Set(Object.keys(axes));
  for (const entry of listOf(include, 'include')) {
    let added = false;
    combos = combos.map((c) => {
      const fits = Object.entries(entry).every(([k, v]) => !original.has(k) || isDeepStrictEqual(c[k], v));
      if (!fits || original.size === 0) return c;
      added = true;
      return { ...c, ...entry };
    });
    if (!added) combos.push({ ...entry });
  }
  if (combos.length > MAX_MATRIX_JOBS) throw new MatrixError(`the matrix makes ${combos.length} jobs; GitHub (and Nestor) run at most ${MAX_MATRIX_JOBS} from one matrix`);
  return combos;
}

/** An exclude entry's value matches a combination's when equal, or for maps, when it matches on the keys it names. */
function matches(actual: Value, wanted: Value): boolean {
  if (isMapValue(wanted) && isMapValue(actual)) return Object.entries(wanted).every(([k, v]) => k in actual && matches(actual[k]!, v));
  return isDeepStrictEqual(actual, wanted);
}

function isMapValue(v: Value): v is { [key: string]: Value } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function listOf(value: unknown, key: string): Combination[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new MatrixError(`matrix ${key} must be a list of maps`, [key]);
  return value.map((e, i) => {
    if (!e || typeof e !== 'object' || Array.isArray(e)) throw new MatrixError(`matrix ${key} entry ${i + 1} must be a map of axis values`, [key, i]);
    return e as Combination;
  });
}
