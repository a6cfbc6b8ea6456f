/**
 * Every error Nestor reports to a user is a NestorError: a stable `code` that scripts can
 * match on, a message that says what went wrong, and a `hint` that says what to do next.
 */
export class NestorError extends Error {
  readonly code: string;
  readonly hint: string;

  constructor(code: string, message: string, hint: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.hint = hint;
  }

  /** One block a terminal user can act on: what happened, then what to do. */
  describe(): string {
    return `${this.message}\n  → ${this.hint}`;
  }

  toJSON(): Record<string, unknown> {
    return { error: this.code, message: this.message, hint: this.hint };
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
