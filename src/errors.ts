/**
 * A stable code scripts can match on: NESTOR_ and upper-case words, digits and underscores
 * (NESTOR_APP_NOT_FOUND). The type keeps codes in that form where they are written; the
 * pattern checks codes that arrive as data (from a compile thread, say).
 */
export type ErrorCode = `NESTOR_${string}`;
export const ERROR_CODE_PATTERN = /^NESTOR_[A-Z0-9_]+$/;

export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === 'string' && ERROR_CODE_PATTERN.test(code);
}

export interface NestorErrorOptions {
  cause?: unknown;
  /** What an answer about the error carries besides code, message and hint (see `details()`). */
  details?: Record<string, unknown>;
}

/**
 * Every error Nestor reports on purpose is a NestorError (or a subclass): a stable `code` that
 * scripts can match on, a message that says what went wrong, and a `hint` that says what to do
 * next. The CLI prints message and hint; the server answers with them as problem+json, with
 * the HTTP status its one table (src/server/http-status.ts) gives the code.
 *
 * A plain Error is Nestor's own failure: a broken invariant, or a reason that a caller wraps
 * into a NestorError of its own. The server answers it with 500 NESTOR_INTERNAL and logs it.
 */
export class NestorError extends Error {
  readonly code: ErrorCode;
  readonly hint: string;
  readonly #details: Record<string, unknown>;

  constructor(code: ErrorCode, message: string, hint: string, options: NestorErrorOptions = {}) {
    super(message, 'cause' in options ? { cause: options.cause } : undefined);
    this.name = new.target.name;
    this.code = code;
    this.hint = hint;
    this.#details = options.details ?? {};
  }

  /** One block a terminal user can act on: what happened, then what to do. */
  describe(): string {
    return `${this.message}\n  → ${this.hint}`;
  }

  /**
   * The fields an answer about this error carries besides code, message and hint: a
   * pipeline's problems, the limit passed, a request's fields to fix.
   */
  details(): Record<string, unknown> {
    return this.#details;
  }

  toJSON(): Record<string, unknown> {
    return { error: this.code, message: this.message, hint: this.hint, ...this.details() };
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
