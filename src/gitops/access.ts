import { NestorError } from '../errors.ts';
import { checkLocalRoot, isLocalRepo } from './repo-url.ts';
import type { DeployTarget } from './targets.ts';

/** Who asks: only the server's admin may reach into the server itself. */
export interface Caller {
  admin: boolean;
}

export class AdminOnlyError extends NestorError {
  constructor(what: string, hint: string) {
    super('NESTOR_ADMIN_ONLY', `Only the server's admin may ${what}`, hint);
  }
}

/**
 * What a new application may name, by who adds it. A local repository is read with the
 * server's own file access, and a deploy target is reached with the server's own ssh keys
 * (ssh://) or with certificates from the server's disk (tcp:// certPath): both act as the
 * server, so both are the admin's, and local repositories only under the operator's roots.
 */
export function checkNewApp(app: { repoUrl: string; target?: DeployTarget | null }, caller: Caller, localRepoRoots: readonly string[]): void {
  if (isLocalRepo(app.repoUrl)) {
    if (!caller.admin) throw new AdminOnlyError('add a repository on the server\'s own disk (file:// or a path)', 'Push the repository to a forge and use its https:// or ssh:// URL, or ask the admin to add the application.');
    checkLocalRoot(app.repoUrl, localRepoRoots);
  }
  if (app.target && !caller.admin) {
    throw new AdminOnlyError('set a deploy target (it is reached with the server\'s own keys and certificates)', 'Add the application without `target` (its functions run on this server), or ask the admin to add it with the target.');
  }
}
