import { ExpressionError, parseExpression, toText, type ExpressionScope, type Value } from './expression.ts';

/**
 * Strings with `${{ … }}` parts, as a workflow writes them everywhere: found with quotes in
 * mind (`${{ format('}}') }}` ends at the second `}}`), checked once when the file is read,
 * and filled in when their contexts are known.
 */

export interface TemplatePart {
  /** The expression inside `${{ }}`. */
  inner: string;
  /** Where `${{` starts in the text. */
  start: number;
  end: number;
}

export function templateParts(text: string): TemplatePart[] {
  const parts: TemplatePart[] = [];
  let i = text.indexOf('${{');
  while (i >= 0) {
    let j = i + 3;
    let quoted = false;
    for (; j < text.length; j++) {
      if (text[j] === "'") quoted = !quoted;
      else if (!quoted && text[j] === '}' && text[j + 1] === '}') break;
    }
    if (j >= text.length) throw new ExpressionError(text.slice(i, i + 40), '`${{` is not closed by `}}`');
    parts.push({ inner: text.slice(i + 3, j), start: i, end: j + 2 });
    i = text.indexOf('${{', j + 2);
  }
  return parts;
}

/** Every expression of a template read once, so that a bad one is found when the file is read. */
export function checkTemplate(text: string): void {
  for (const p of templateParts(text)) parseExpression(p.inner);
}

/** The template with each expression's value as text. */
export function fill(text: string, scope: ExpressionScope): string {
  const parts = templateParts(text);
  if (parts.length === 0) return text;
  let out = '';
  let at = 0;
  for (const p of parts) {
    out += text.slice(at, p.start) + toText(parseExpression(p.inner)(scope));
    at = p.end;
  }
  return out + text.slice(at);
}

/**
 * The template with each expression filled in that the scope can answer, the rest left as
 * written: a step's name is known when the file is read except for what only the run tells
 * (`Test ${{ matrix.node }} of ${{ needs.prepare.outputs.version }}`).
 */
export function fillKnown(text: string, scope: ExpressionScope): string {
  let out = '';
  let at = 0;
  for (const p of templateParts(text)) {
    let value: string;
    try {
      value = toText(parseExpression(p.inner)(scope));
    } catch {
      value = text.slice(p.start, p.end);
    }
    out += text.slice(at, p.start) + value;
    at = p.end;
  }
  return out + text.slice(at);
}

/** A value written as one whole expression (`${{ matrix.node }}`) keeps its type; anything else is text. */
export function fillValue(text: string, scope: ExpressionScope): Value {
  const parts = templateParts(text);
  if (parts.length === 1 && parts[0]!.start === 0 && parts[0]!.end === text.trimEnd().length && text.trimStart() === text) return parseExpression(parts[0]!.inner)(scope);
  return fill(text, scope);
}

/** An `if:` without its optional `${{ }}`. */
export function ifExpression(value: string | boolean | number): string {
  const text = String(value);
  return /^\s*\$\{\{([\s\S]*)\}\}\s*$/.exec(text)?.[1]?.trim() ?? text.trim();
}

/** Whether an expression reads what only the run knows as it goes: steps, needs, job status. */
export function readsRunState(expression: string): boolean {
  return /\b(steps|needs|job|runner)\s*[.[]|\b(success|failure|always|cancelled|hashFiles)\s*\(/i.test(expression);
}

/** Whether an `if:` names a status function, so success() is not implied. */
export function namesStatus(expression: string): boolean {
  return /\b(success|failure|always|cancelled)\s*\(/i.test(expression);
}
