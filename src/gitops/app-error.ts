import { NestorError, type ErrorCode } from '../errors.ts';

/** A GitOps error with the HTTP status the API answers it with. */
export class AppError extends NestorError {
  readonly status: number;
  constructor(status: number, code: ErrorCode, message: string, hint: string) {
    super(code, message, hint);
    this.status = status;
  }
}
