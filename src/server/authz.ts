import type { FastifyRequest } from 'fastify';
import { AdminOnlyError } from '../gitops/access.ts';

/**
 * Refuses a request unless its token is the server's admin's: for what acts as the server
 * itself (its disk, its keys) or lowers isolation (marking a runner or repository trusted).
 * `what` completes "Only the server's admin may …"; `hint` says what a user can do instead.
 */
export function requireAdmin(req: FastifyRequest, what: string, hint: string): void {
  if (req.identity?.kind !== 'admin') throw new AdminOnlyError(what, hint);
}
