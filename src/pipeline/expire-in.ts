/** GitLab's `expire_in`, read where the plan is made (src/pipeline) and kept by the artifact store. */

const UNITS: Record<string, number> = { s: 1, sec: 1, second: 1, m: 60, min: 60, minute: 60, h: 3600, hr: 3600, hour: 3600, d: 86400, day: 86400, w: 604800, wk: 604800, week: 604800, mo: 2_592_000, month: 2_592_000, y: 31_536_000, yr: 31_536_000, year: 31_536_000 };

/**
 * GitLab's `expire_in` ("3 days", "1 week 2 days", "42", "2h 30min", "never") in milliseconds;
 * null: never. A bare number is seconds, as GitLab reads it. Undefined when it cannot be read.
 */
export function parseExpireIn(text: string | number): number | null | undefined {
  if (typeof text === 'number') return text * 1000;
  const t = text.trim().toLowerCase();
  if (t === 'never') return null;
  if (/^\d+$/.test(t)) return Number(t) * 1000;
  let total = 0;
  let matched = '';
  for (const m of t.matchAll(/(\d+(?:\.\d+)?)\s*([a-z]+?)s?\b(?:\s*(?:and|,)\s*)?\s*/g)) {
    const unit = UNITS[m[2]!];
    if (unit === undefined) return undefined;
    total += Number(m[1]) * unit;
    matched += m[0];
  }
  return matched.trim() === t && total > 0 ? Math.round(total * 1000) : undefined;
}
