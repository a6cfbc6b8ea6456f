import { NestorError } from '../errors.ts';

/** A whole-number flag (`--max-jobs 4`), at least `min`; anything else is refused with what to give. */
export function countFlag(value: string | undefined, fallback: number, flag: string, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw new NestorError('NESTOR_USAGE', `${flag} ${value}: expected a whole number of at least ${min}`, `Give ${flag} ${Math.max(min, fallback)}, for example.`);
  return n;
}
